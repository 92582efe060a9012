"""The `switchboard` command."""

from __future__ import annotations

import asyncio
import os
import sys

import typer

from switchboard.cli.admin_commands import admin_app
from switchboard.config import ConfigError

app = typer.Typer(help="Switchboard: a self-hosted LLM gateway that speaks OpenRouter's API.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
config_app = typer.Typer(help="Config file commands.", no_args_is_help=True)
db_app = typer.Typer(help="Database commands.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")
app.add_typer(admin_app, name="admin")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind."),
    port: int = typer.Option(8080, "--port", help="Port to listen on."),
    config: str | None = typer.Option(None, "--config", help="YAML config file (SPEC §2)."),
    workers: int = typer.Option(1, "--workers", min=1, help="Worker processes."),
    server: str = typer.Option("uvicorn", "--server", help="HTTP server: uvicorn or granian."),
    log_level: str | None = typer.Option(
        None, "--log-level", help="debug, info, warning, error (default: config, else info)."),
    log_format: str | None = typer.Option(
        None, "--log-format", help="text or json (default: config, else text)."),
) -> None:
    """Run the gateway.  Example: switchboard serve --port 8080 --config switchboard.yaml"""
    from switchboard.cli.serve import serve as run

    if server not in ("granian", "uvicorn"):
        typer.echo("error: --server must be granian or uvicorn", err=True)
        raise typer.Exit(2)
    if log_level is not None and log_level.lower() not in ("debug", "info", "warning", "error",
                                                           "critical"):
        typer.echo("error: --log-level must be debug, info, warning, error or critical", err=True)
        raise typer.Exit(2)
    if log_format is not None and log_format not in ("text", "json"):
        typer.echo("error: --log-format must be text or json", err=True)
        raise typer.Exit(2)
    run(host, port, config or os.environ.get("SWITCHBOARD_CONFIG"), workers, server,
        log_level.lower() if log_level else None, log_format)


@config_app.command("check")
def config_check(path: str = typer.Argument(..., help="The config file to validate.")) -> None:
    """Validate a config file without starting.  Example: switchboard config check sb.yaml"""
    from switchboard.catalog.loader import build_catalog
    from switchboard.config import load_file

    try:
        conf, node = load_file(path)
        catalog = build_catalog(conf, node, path)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{path}: OK ({len(catalog.providers)} providers, {len(catalog.models)} models)")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending schema migrations.  Example: switchboard db upgrade"""
    from switchboard.settings import load_settings
    from switchboard.store import db as dbmod
    from switchboard.store import migrations

    async def run() -> int:
        database = await dbmod.connect(load_settings().database_url)
        try:
            return await migrations.upgrade(database)
        finally:
            await database.close()

    try:
        version = asyncio.run(run())
    except (ConfigError, migrations.SchemaTooNew) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"database schema at version {version}")


def _register_client_commands() -> None:
    try:
        from switchboard.cli import client_commands
    except ImportError:
        return
    client_commands.register(app)


def main() -> None:
    _register_client_commands()
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
