"""`switchboard admin`: root-key administration, run where the database is reachable."""

from __future__ import annotations

import asyncio
import os

import typer

from switchboard.config import ConfigError

admin_app = typer.Typer(help="Root-key administration (talks to the database directly).",
                        no_args_is_help=True)


@admin_app.command("rotate")
def rotate() -> None:
    """Create a new root key, print it once, and revoke the old one.

    Example: switchboard admin rotate
    """
    from switchboard.settings import load_settings
    from switchboard.store import db as dbmod
    from switchboard.store import migrations, root_keys
    from switchboard.store.repo import Repo

    async def run() -> tuple[str, int]:
        database = await dbmod.connect(load_settings().database_url)
        try:
            await migrations.upgrade(database)
            repo = Repo(database)
            await repo.ensure_default_account()
            return await root_keys.rotate(repo)
        finally:
            await database.close()

    try:
        key, revoked = asyncio.run(run())
    except (ConfigError, migrations.SchemaTooNew) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except (ValueError, OSError) as exc:  # a bad URL, a database that does not answer
        typer.echo(f"error: cannot open the database: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"new root admin key (shown once, stored only as a hash): {key}")
    typer.echo(f"revoked {revoked} older root key(s); running instances stop accepting them "
               "within 2 s", err=True)
    if os.environ.get("SWITCHBOARD_ADMIN_KEY"):
        typer.echo("the root key from SWITCHBOARD_ADMIN_KEY is not touched: change the "
                   "variable and restart to replace it", err=True)
