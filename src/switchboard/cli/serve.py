"""`switchboard serve`: prepare the database once, then run uvicorn (uvloop + httptools)."""

from __future__ import annotations

import asyncio
import contextlib
import logging.config
import os
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

from switchboard.app import SwitchboardApp, bootstrap_keys, create_app
from switchboard.cli.listen import check_free, listen
from switchboard.config import ConfigError
from switchboard.http_guard import GuardedProtocol
from switchboard.observability.logs import dict_config, lighten_records
from switchboard.settings import Settings, load_settings
from switchboard.store import db as dbmod
from switchboard.store import migrations
from switchboard.store.repo import Repo


def app_factory() -> SwitchboardApp:
    """Each uvicorn worker builds its app from the environment the parent prepared."""
    lighten_records()  # a spawned worker starts with logging's defaults
    return create_app(load_settings())


async def prepare(settings: Settings) -> list[str]:
    database = await dbmod.connect(settings.database_url)
    try:
        await migrations.upgrade(database)
        return await bootstrap_keys(Repo(database), settings.admin_key)
    finally:
        await database.close()


def _banner(settings: Settings, host: str, port: int) -> list[str]:
    live = [p.name for p in settings.catalog.providers.values()
            if p.configured and p.api != "simulator"]
    lines = [f"Switchboard listening on http://{host}:{port}/api/v1"]
    if live:
        lines.append(f"providers with credentials: {', '.join(sorted(live))}")
    else:
        lines.append("no provider credentials found: serving the offline simulator "
                     "(switchboard/echo, switchboard/lorem); set e.g. OPENAI_API_KEY to add one")
    return lines


def serve(
    host: str, port: int, config: str | None, workers: int, server: str = "uvicorn",
    log_level: str | None = None, log_format: str | None = None,
) -> None:
    if config:
        os.environ["SWITCHBOARD_CONFIG"] = config
    try:
        settings = load_settings()
        logs = settings.file.logging
        log_config = dict_config(log_level or logs.level,
                                 "json" if (log_format or logs.format) == "json" else "text")
        lighten_records()
        logging.config.dictConfig(log_config)
        if workers > 1 and settings.file.metrics.enabled:
            metrics_dir()
        boot = asyncio.run(prepare(settings))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except migrations.SchemaTooNew as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    raise_fd_limit()
    if not boot and not settings.admin_key:
        boot = ["Keys were printed on the first start only. Lost the root key? Restart with "
                "SWITCHBOARD_ADMIN_KEY=<a secret of your choice> to add one (README: "
                "'Lost the keys?')."]
    # "listening" only once the port is ours: a taken port is one clear line instead
    sock = listen(host, port) if server != "granian" and workers == 1 else None
    if sock is None:
        check_free(host, port)
    if any(line.startswith("export ") for line in boot):
        local = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        boot.append(f"export SWITCHBOARD_BASE_URL=http://{local}:{port}/api/v1")
    for line in boot + _banner(settings, host, port):
        print(line, flush=True)

    if server == "granian":
        _run_granian(host, port, workers, log_config)
    elif sock is not None:
        _serve_on(sock, log_config)
    else:
        _run_uvicorn(host, port, workers, log_config)


def metrics_dir() -> str:
    """Several workers share one metrics directory (prometheus-client's multiprocess mode),
    emptied at start so counters from an earlier run do not leak into this one."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not path:
        path = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(
            prefix="switchboard-metrics-")
    os.makedirs(path, exist_ok=True)
    for stale in Path(path).glob("*.db"):
        stale.unlink(missing_ok=True)
    return path


def raise_fd_limit() -> None:
    """Use the hard file-descriptor limit: each client connection costs one."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ImportError, ValueError, OSError):
        pass


def uvicorn_hardening() -> dict[str, Any]:
    """Limits uvicorn needs against slow or hostile clients (README: "Server limits").

    The protocol class adds what uvicorn lacks (header deadline and size cap, a cap on
    connections still sending headers, JSON error bodies); the rest are uvicorn's own.
    """
    return {
        "http": GuardedProtocol,
        "timeout_keep_alive": 5,  # an idle keep-alive connection is closed after 5 s
        "h11_max_incomplete_event_size": GuardedProtocol.limits.max_header_bytes,
        "backlog": 2048,
    }


def _run_granian(host: str, port: int, workers: int, log_config: dict[str, Any]) -> None:
    """Granian's Rust HTTP layer: a little more throughput at high concurrency, but a
    thread hop per request that costs latency at low concurrency (see README numbers)."""
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces, Loops
    from granian.http import HTTP1Settings
    from granian.log import LogLevels

    limits = GuardedProtocol.limits
    Granian(
        "switchboard.cli.serve:app_factory", factory=True, address=host, port=port,
        interface=Interfaces.ASGI, workers=workers, loop=Loops.uvloop, http=HTTPModes.http1,
        websockets=False, log_enabled=True, log_access=False, log_dictconfig=log_config,
        log_level=LogLevels(log_config["root"]["level"].lower()),
        backlog=2048, workers_kill_timeout=20,
        http1_settings=HTTP1Settings(header_read_timeout=int(limits.header_timeout_s * 1000),
                                     max_buffer_size=limits.max_header_bytes),
    ).serve()


def _uvicorn_options(log_config: dict[str, Any]) -> dict[str, Any]:
    return dict(factory=True, loop="uvloop", lifespan="on", access_log=False,
                log_config=log_config, timeout_graceful_shutdown=15, server_header=False,
                date_header=False, proxy_headers=False, **uvicorn_hardening())


def _run_uvicorn(host: str, port: int, workers: int, log_config: dict[str, Any]) -> None:
    import uvicorn

    uvicorn.run("switchboard.cli.serve:app_factory", host=host, port=port,
                workers=workers if workers > 1 else None, **_uvicorn_options(log_config))


def _serve_on(sock: socket.socket, log_config: dict[str, Any]) -> None:
    """One worker on the socket `listen` already holds."""
    import uvicorn

    config = uvicorn.Config("switchboard.cli.serve:app_factory", **_uvicorn_options(log_config))
    server = uvicorn.Server(config)
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[sock])
    if not server.started:
        raise SystemExit(3)  # start-up failed; uvicorn logged why
