"""Two real database backends behind one tiny async interface.

SQL is written once with PostgreSQL's `$1` placeholders; SQLite gets `?1`. SQLite runs on
the stdlib driver on a thread of its own (never on the event loop); PostgreSQL on asyncpg.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import re
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

_PLACEHOLDER = re.compile(r"\$(\d+)")
_T = TypeVar("_T")


class Conn(Protocol):
    async def fetchone(self, sql: str, *args: Any) -> dict[str, Any] | None: ...
    async def fetchall(self, sql: str, *args: Any) -> list[dict[str, Any]]: ...
    async def execute(self, sql: str, *args: Any) -> int: ...


class Database(Conn, Protocol):
    kind: str

    def transaction(self) -> Any: ...
    async def run_transaction(self, body: Callable[[Conn], Awaitable[_T]]) -> _T: ...
    async def close(self) -> None: ...


class SQLiteDatabase:
    """SQLite on one dedicated thread with its own connection, so that a long statement (a
    purge, an aggregate) or a wait for another process's lock never stalls the event loop.

    Statements run in submission order on that thread. A transaction holds an asyncio lock
    from its first statement to its COMMIT, so no other task's statement can land inside it;
    BEGIN rides along with the first statement and COMMIT is one more hop.
    """

    kind = "sqlite"

    def __init__(self, path: str) -> None:
        if path != ":memory:":
            _private_file(Path(path))
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._conn = self._worker.submit(_open, path).result()
        self._lock = asyncio.Lock()
        self._tx: contextvars.ContextVar[_SQLiteTx | None] = contextvars.ContextVar(
            f"sqlite_tx_{id(self)}", default=None)
        self._sql_cache: dict[str, str] = {}

    def _sql(self, sql: str) -> str:
        out = self._sql_cache.get(sql)
        if out is None:
            out = _PLACEHOLDER.sub(r"?\1", sql)
            self._sql_cache[sql] = out
        return out

    async def _call(self, fn: Callable[..., _T], *args: Any) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._worker, fn, *args)

    async def fetchone(self, sql: str, *args: Any) -> dict[str, Any] | None:
        tx = self._tx.get()
        if tx is not None:  # called on the database inside this task's own transaction
            return await tx.fetchone(sql, *args)
        async with self._lock:
            return await self._call(_fetchone, self._conn, self._sql(sql), args)

    async def fetchall(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        tx = self._tx.get()
        if tx is not None:
            return await tx.fetchall(sql, *args)
        async with self._lock:
            return await self._call(_fetchall, self._conn, self._sql(sql), args)

    async def execute(self, sql: str, *args: Any) -> int:
        tx = self._tx.get()
        if tx is not None:
            return await tx.execute(sql, *args)
        async with self._lock:
            return await self._call(_execute, self._conn, self._sql(sql), args)

    async def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        tx = self._tx.get()
        if tx is not None:
            await tx.executemany(sql, rows)
            return
        async with self._lock:
            await self._call(self._conn.executemany, self._sql(sql), rows)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_SQLiteTx]:
        outer = self._tx.get()
        if outer is not None:  # nested: part of the enclosing transaction, as SQL would have it
            yield outer
            return
        async with self._lock:
            tx = _SQLiteTx(self)
            token = self._tx.set(tx)
            try:
                yield tx
            except BaseException:
                if tx.begun:
                    # queued behind any statement still running, before the lock is let go;
                    # shielded so that a second cancellation cannot skip it
                    await asyncio.shield(self._call(self._conn.execute, "ROLLBACK"))
                raise
            else:
                if tx.begun:
                    try:
                        await asyncio.shield(self._call(self._conn.execute, "COMMIT"))
                    except BaseException:
                        await asyncio.shield(self._call(_rollback_if_open, self._conn))
                        raise
            finally:
                self._tx.reset(token)

    async def run_transaction(self, body: Callable[[Conn], Coroutine[Any, Any, _T]]) -> _T:
        """Run `body(tx)` as one transaction in a single trip to the SQLite thread (the hot
        path's hold): the body may await only its own statements, which complete at once."""
        if self._tx.get() is not None:
            raise RuntimeError("run_transaction inside a transaction")
        async with self._lock:
            direct = _DirectTx(self._conn, self._sql)
            return await asyncio.shield(self._call(_drive_in_tx, self._conn, body(direct)))

    async def close(self) -> None:
        async with self._lock:
            await self._call(self._conn.close)
        self._worker.shutdown(wait=True)


class _SQLiteTx:
    """The statements of one SQLite transaction (the database's lock is held)."""

    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db
        self.begun = False

    async def _run(self, fn: Callable[..., _T], sql: str, args: Any) -> _T:
        begin = not self.begun
        self.begun = True
        return await self._db._call(_in_tx, self._db._conn, begin, fn, self._db._sql(sql), args)

    async def fetchone(self, sql: str, *args: Any) -> dict[str, Any] | None:
        return await self._run(_fetchone, sql, args)

    async def fetchall(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        return await self._run(_fetchall, sql, args)

    async def execute(self, sql: str, *args: Any) -> int:
        return await self._run(_execute, sql, args)

    async def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        await self._run(_executemany, sql, rows)


class _DirectTx:
    """Statements that run right away on the calling (SQLite) thread: their coroutines
    finish without suspending, so a transaction body can be driven there to completion."""

    def __init__(self, conn: sqlite3.Connection, sql: Callable[[str], str]) -> None:
        self._conn = conn
        self._sql = sql

    async def fetchone(self, sql: str, *args: Any) -> dict[str, Any] | None:
        return _fetchone(self._conn, self._sql(sql), args)

    async def fetchall(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        return _fetchall(self._conn, self._sql(sql), args)

    async def execute(self, sql: str, *args: Any) -> int:
        return _execute(self._conn, self._sql(sql), args)

    async def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        _executemany(self._conn, self._sql(sql), rows)


# -- run on the SQLite thread ------------------------------------------------------------

def _drive_in_tx(conn: sqlite3.Connection, coro: Coroutine[Any, Any, _T]) -> _T:
    conn.execute("BEGIN IMMEDIATE")
    try:
        try:
            coro.send(None)
        except StopIteration as done:
            conn.execute("COMMIT")
            return done.value  # type: ignore[no-any-return]
        coro.close()
        raise RuntimeError("a SQLite transaction body awaited something besides its statements")
    except BaseException:
        _rollback_if_open(conn)
        raise


def _open(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA foreign_keys=ON")
    # purged or overwritten content is zeroed in the file, whatever the build's default
    conn.execute("PRAGMA secure_delete=ON")
    return conn


def _fetchone(conn: sqlite3.Connection, sql: str, args: Any) -> dict[str, Any] | None:
    row = conn.execute(sql, args).fetchone()
    return dict(row) if row is not None else None


def _fetchall(conn: sqlite3.Connection, sql: str, args: Any) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(sql, args).fetchall()]


def _execute(conn: sqlite3.Connection, sql: str, args: Any) -> int:
    return conn.execute(sql, args).rowcount


def _executemany(conn: sqlite3.Connection, sql: str, rows: Any) -> int:
    return conn.executemany(sql, rows).rowcount


def _in_tx(conn: sqlite3.Connection, begin: bool, fn: Callable[..., _T], sql: str,
           args: Any) -> _T:
    if begin:
        conn.execute("BEGIN IMMEDIATE")
    return fn(conn, sql, args)


def _rollback_if_open(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")


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

    async def run_transaction(self, body: Callable[[Conn], Awaitable[_T]]) -> _T:
        async with self.transaction() as tx:
            return await body(tx)

    async def close(self) -> None:
        await self._pool.close()


async def connect(url: str) -> SQLiteDatabase | PostgresDatabase:
    if url.startswith("sqlite://"):
        path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else ":memory:"
        return SQLiteDatabase(path or ":memory:")
    if url.startswith(("postgresql://", "postgres://", "postgresql+asyncpg://")):
        return await PostgresDatabase.connect(url)
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:///path or postgresql://…")
