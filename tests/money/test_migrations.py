"""Versioned migrations: run on start, idempotent, never half-applied, and a database
written by a newer Switchboard is refused."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from switchboard.app import create_app
from switchboard.settings import load_settings
from switchboard.store import db as dbmod
from switchboard.store import migrations
from tests.money.conftest import Backend

TABLES = {"accounts", "api_keys", "holds", "credit_grants", "generations", "schema_version"}


async def _tables(db: Any) -> set[str]:
    if db.kind == "sqlite":
        rows = await db.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {r["name"] for r in rows}
    rows = await db.fetchall("SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'")
    return {r["name"] for r in rows}


def test_upgrade_creates_the_schema_and_a_second_run_is_a_no_op(backend: Backend) -> None:
    async def main() -> None:
        db = await dbmod.connect(backend.url)
        assert await migrations.current_version(db) == 0
        assert await migrations.upgrade(db) == migrations.LATEST
        assert await _tables(db) >= TABLES
        await db.execute("INSERT INTO accounts (id, name, credits, created_at) "
                         "VALUES ('a1', 'n1', 42, 'now')")
        assert await migrations.upgrade(db) == migrations.LATEST
        assert await migrations.upgrade(db) == migrations.LATEST
        rows = await db.fetchall("SELECT version FROM schema_version")
        assert rows == [{"version": migrations.LATEST}]
        assert (await db.fetchone("SELECT credits FROM accounts WHERE id = 'a1'")) == {
            "credits": 42}
        await db.close()

    asyncio.run(main())


def test_concurrent_starts_migrate_once(backend: Backend) -> None:
    async def main() -> None:
        dbs = [await dbmod.connect(backend.url) for _ in range(4)]
        versions = await asyncio.gather(*(migrations.upgrade(d) for d in dbs))
        assert versions == [migrations.LATEST] * 4
        rows = await dbs[0].fetchall("SELECT version FROM schema_version")
        assert rows == [{"version": migrations.LATEST}]
        for d in dbs:
            await d.close()

    asyncio.run(main())


def test_a_failing_migration_leaves_nothing_half_done(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    nxt = migrations.LATEST + 1
    broken = [*migrations.MIGRATIONS, (nxt, [
        "CREATE TABLE half_done (id TEXT PRIMARY KEY)",
        "ALTER TABLE accounts ADD COLUMN note TEXT",
        "THIS IS NOT SQL",
    ])]

    async def main() -> None:
        db = await dbmod.connect(backend.url)
        await migrations.upgrade(db)
        monkeypatch.setattr(migrations, "MIGRATIONS", broken)
        monkeypatch.setattr(migrations, "LATEST", nxt)
        with pytest.raises(Exception):  # noqa: B017 - whatever the driver raises
            await migrations.upgrade(db)
        assert await migrations.current_version(db) == nxt - 1
        assert "half_done" not in await _tables(db)
        await db.execute("INSERT INTO accounts (id, name, created_at) VALUES ('x', 'x', 'n')")
        with pytest.raises(Exception):  # noqa: B017 - the column was not added either
            await db.fetchone("SELECT note FROM accounts")
        fixed = [*migrations.MIGRATIONS[:-1], (nxt, broken[-1][1][:2])]
        monkeypatch.setattr(migrations, "MIGRATIONS", fixed)
        assert await migrations.upgrade(db) == nxt
        assert "half_done" in await _tables(db)
        await db.close()

    asyncio.run(main())


def _make_too_new(url: str) -> None:
    async def main() -> None:
        db = await dbmod.connect(url)
        await migrations.upgrade(db)
        await db.execute("UPDATE schema_version SET version = $1", migrations.LATEST + 1)
        await db.close()

    asyncio.run(main())


def test_a_newer_schema_is_refused(backend: Backend, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    _make_too_new(backend.url)

    async def main() -> None:
        db = await dbmod.connect(backend.url)
        with pytest.raises(migrations.SchemaTooNew):
            await migrations.upgrade(db)
        await db.close()

    asyncio.run(main())
    # the application's own start-up refuses too
    monkeypatch.setenv("SWITCHBOARD_DATABASE_URL", backend.url)
    monkeypatch.setenv("SWITCHBOARD_ADMIN_KEY", "sk-sb-test-admin-x")
    monkeypatch.delenv("SWITCHBOARD_CONFIG", raising=False)
    monkeypatch.delenv("SWITCHBOARD_REDIS_URL", raising=False)
    app = create_app(load_settings())
    with pytest.raises(migrations.SchemaTooNew):
        asyncio.run(app.startup())
    if backend.kind != "sqlite":
        return  # the process check below once is enough: it takes a few seconds
    # and `switchboard serve` exits with a message instead of serving
    env = {**os.environ, "SWITCHBOARD_DATABASE_URL": backend.url,
           "SWITCHBOARD_DATA_DIR": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "switchboard.cli.main", "serve", "--port", "1"],
        env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode != 0
    assert "newer" in proc.stderr and str(migrations.LATEST + 1) in proc.stderr
    rows = asyncio.run(_version(backend.url))
    assert rows == migrations.LATEST + 1  # untouched


async def _version(url: str) -> int:
    db = await dbmod.connect(url)
    try:
        return await migrations.current_version(db)
    finally:
        await db.close()
