"""Every money test runs twice: on SQLite (the default) and on a fresh PostgreSQL database."""

from __future__ import annotations

import asyncio
import re
import secrets
import sqlite3
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.support import GatewayServer, MockUpstream

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
_PLACEHOLDER = re.compile(r"\$(\d+)")


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


class Backend:
    """The database under test, inspected directly (never through the gateway)."""

    def __init__(self, kind: str, url: str, tmp: Path, sqlite_path: Path | None = None) -> None:
        self.kind = kind
        self.url = url
        self.tmp = tmp
        self.sqlite_path = sqlite_path

    def sql(self, query: str, *args: Any) -> list[dict[str, Any]]:
        """Run one statement ($1-style placeholders) and return its rows."""
        if self.sqlite_path is not None:
            conn = sqlite3.connect(self.sqlite_path, timeout=10)
            conn.row_factory = sqlite3.Row
            try:
                cur = conn.execute(_PLACEHOLDER.sub(r"?\1", query), args)
                rows = [dict(r) for r in cur.fetchall()]
                conn.commit()
                return rows
            finally:
                conn.close()

        async def run() -> list[dict[str, Any]]:
            conn = await asyncpg.connect(self.url)
            try:
                return [dict(r) for r in await conn.fetch(query, *args)]
            finally:
                await conn.close()

        return asyncio.run(run())

    def one(self, query: str, *args: Any) -> dict[str, Any]:
        rows = self.sql(query, *args)
        assert len(rows) == 1, rows
        return rows[0]

    def files(self) -> list[Path]:
        assert self.sqlite_path is not None
        return [p for p in self.sqlite_path.parent.iterdir()
                if p.name.startswith(self.sqlite_path.name)]

    def stored_bytes(self) -> bytes:
        """Everything the database holds: SQLite's files byte for byte (db, -wal, -shm);
        for PostgreSQL every row of every table rendered as text."""
        if self.sqlite_path is not None:
            return b"".join(p.read_bytes() for p in self.files())
        tables = [r["tablename"] for r in self.sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        out = []
        for t in tables:
            for r in self.sql(f'SELECT t::text AS row FROM "{t}" t'):
                out.append(r["row"])
        return "\n".join(out).encode()


class _FreshDatabases:
    """Fresh PostgreSQL databases, one per test. CREATE/DROP DATABASE take most of a second
    each, so a worker thread creates the next one while a test runs and drops used ones
    behind it; every test still gets a database nobody used before."""

    def __init__(self) -> None:
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-fresh")
        self._ready: deque[tuple[str, Future[None]]] = deque()

    def _create(self) -> None:
        name = "sbt_" + secrets.token_hex(6)
        self._ready.append((name, self._worker.submit(
            asyncio.run, _pg_admin(f"CREATE DATABASE {name}"))))  # type: ignore[arg-type]

    def take(self) -> str:
        if not self._ready:
            self._create()
        name, done = self._ready.popleft()
        self._create()  # the next test's, made while this one runs
        done.result()
        return name

    def drop(self, name: str) -> None:
        self._worker.submit(asyncio.run, _pg_admin(  # type: ignore[arg-type]
            f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))

    def close(self) -> None:
        while self._ready:
            name, done = self._ready.popleft()
            done.result()
            self.drop(name)
        self._worker.shutdown(wait=True)


@pytest.fixture(scope="session")
def fresh_databases() -> Iterator[_FreshDatabases]:
    pool = _FreshDatabases()
    yield pool
    pool.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        path = tmp_path / "db" / "sb.db"
        yield Backend("sqlite", f"sqlite:///{path}", tmp_path, path)
        return
    databases: _FreshDatabases = request.getfixturevalue("fresh_databases")
    name = databases.take()
    try:
        yield Backend("postgresql", f"postgresql://postgres@127.0.0.1:5432/{name}", tmp_path)
    finally:
        databases.drop(name)


Start = Callable[..., GatewayServer]


@pytest.fixture()
def start(backend: Backend, upstream: MockUpstream) -> Iterator[Start]:
    """start(config_text, env=None) -> a gateway on the backend's database (any number)."""
    servers: list[GatewayServer] = []

    def _start(config_text: str, env: dict[str, str] | None = None) -> GatewayServer:
        where = backend.tmp / f"gw{len(servers)}"
        where.mkdir()
        gw = GatewayServer(config_text, where, env=env, database_url=backend.url)
        servers.append(gw)
        return gw

    yield _start
    for gw in servers:
        gw.http.close()
        gw.stop()
