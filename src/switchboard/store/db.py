"""Two real database backends behind one tiny async interface.

SQL is written once with PostgreSQL's `$1` placeholders; SQLite gets `?1`. SQLite runs
on the stdlib driver inside the event loop: its statements take microseconds in WAL
mode, far less than a thread hop would cost.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

_PLACEHOLDER = re.compile(r"\$(\d+)")


class Conn(Protocol):
    async def fetchone(self, sql: str, *args: Any) -> dict[str, Any] | None: ...
    async def fetchall(self, sql: str, *args: Any) -> list[dict[str, Any]]: ...
    async def execute(self, sql: str, *args: Any) -> int: ...


class Database(Conn, Protocol):
    kind: str

    def transaction(self) -> Any: ...
    async def close(self) -> None: ...


class SQLiteDatabase:
    kind = "sqlite"

    def __init__(self, path: str) -> None:
        if path != ":memory:":
            _private_file(Path(path))
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA busy_timeout=10000")
        self._conn.execute("PRAGMA foreign_keys=ON")
        # purged or overwritten content is zeroed in the file, whatever the build's default
        self._conn.execute("PRAGMA secure_delete=ON")
        self._sql_cache: dict[str, str] = {}
        self._in_tx = False

    def _sql(self, sql: str) -> str:
        out = self._sql_cache.get(sql)
        if out is None:
            out = _PLACEHOLDER.sub(r"?\1", sql)
            self._sql_cache[sql] = out
        return out

    async def fetchone(self, sql: str, *args: Any) -> dict[str, Any] | None:
        row = self._conn.execute(self._sql(sql), args).fetchone()
        return dict(row) if row is not None else None

    async def fetchall(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        return [dict(r) for r in self._conn.execute(self._sql(sql), args).fetchall()]

    async def execute(self, sql: str, *args: Any) -> int:
        return self._conn.execute(self._sql(sql), args).rowcount

    async def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        self._conn.executemany(self._sql(sql), rows)

    async def executescript(self, sql: str) -> None:
        self._conn.executescript(sql)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SQLiteDatabase]:
        # Nothing awaits inside a SQLite transaction body for real I/O, so no other task
        # can interleave statements on this shared connection while it is open.
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        else:
            self._conn.execute("COMMIT")

    async def close(self) -> None:
        self._conn.close()


def _private_file(path: Path) -> None:
    """The database holds keys' hashes, balances and prompts: its directory is created 0700
    and the file 0600 (SQLite gives its -wal and -shm files the main file's mode)."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if p.exists() and p.stat().st_mode & 0o077:
            os.chmod(p, 0o600)


class _PgConn:
    def __init__(self, conn: Any) -> None:
        self._c = conn

    async def fetchone(self, sql: str, *args: Any) -> dict[str, Any] | None:
        row = await self._c.fetchrow(sql, *args)
        return dict(row) if row is not None else None

    async def fetchall(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        return [dict(r) for r in await self._c.fetch(sql, *args)]

    async def execute(self, sql: str, *args: Any) -> int:
        status: str = await self._c.execute(sql, *args)
        tail = status.rsplit(" ", 1)[-1]
        return int(tail) if tail.isdigit() else 0

    async def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        await self._c.executemany(sql, rows)


class PostgresDatabase:
    kind = "postgresql"

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    @classmethod
    async def connect(cls, url: str, min_size: int = 2, max_size: int = 20) -> PostgresDatabase:
        import asyncpg

        dsn = url.replace("postgresql+asyncpg://", "postgresql://")
        pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size)
        return cls(pool)

    async def fetchone(self, sql: str, *args: Any) -> dict[str, Any] | None:
        async with self._pool.acquire() as c:
            return await _PgConn(c).fetchone(sql, *args)

    async def fetchall(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        async with self._pool.acquire() as c:
            return await _PgConn(c).fetchall(sql, *args)

    async def execute(self, sql: str, *args: Any) -> int:
        async with self._pool.acquire() as c:
            return await _PgConn(c).execute(sql, *args)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_PgConn]:
        async with self._pool.acquire() as c, c.transaction():
            yield _PgConn(c)

    async def close(self) -> None:
        await self._pool.close()


async def connect(url: str) -> SQLiteDatabase | PostgresDatabase:
    if url.startswith("sqlite://"):
        path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else ":memory:"
        return SQLiteDatabase(path or ":memory:")
    if url.startswith(("postgresql://", "postgres://", "postgresql+asyncpg://")):
        return await PostgresDatabase.connect(url)
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:///path or postgresql://…")
