"""The store never stalls the event loop: a content purge over a million old records and an
/activity aggregate over them run while the loop keeps answering (its lag is measured)."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from switchboard.store import db as dbmod
from switchboard.store import migrations
from tests.money.conftest import Backend, Start
from tests.money.util import auth, money_config
from tests.support import GatewayServer, MockUpstream

ROWS = 1_000_000
WITH_CONTENT = 10  # every tenth old record still holds its prompt
OLD = "2020-01-01T00:00:00.000Z"
TODAY = time.strftime("%Y-%m-%d", time.gmtime())


def _fill_sqlite(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute(
            "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < ?) "
            "INSERT INTO generations (id, account_id, key_hash, model, provider, tokens_prompt, "
            "cost, day, created_at, prompt_content) SELECT printf('gen-old-%08d', x), "
            "'default', 'k', 'test/old', 'acme', 3, 7, CASE WHEN x % ? = 0 THEN ? ELSE "
            "'2020-01-01' END, ?, CASE WHEN x % ? = 0 THEN 'an old secret prompt' END FROM n",
            (ROWS, WITH_CONTENT, TODAY, OLD, WITH_CONTENT))
    finally:
        conn.close()


@pytest.fixture(scope="session")
def million_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once (it takes a while), copied for each test that needs it."""
    path = tmp_path_factory.mktemp("million") / "sb.db"

    async def schema() -> None:
        db = await dbmod.connect(f"sqlite:///{path}")
        await migrations.upgrade(db)
        await db.close()

    asyncio.run(schema())
    _fill_sqlite(path)
    return path


def _fill(backend: Backend, template: Path) -> None:
    if backend.sqlite_path is not None:
        backend.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        for src in template.parent.iterdir():
            shutil.copy(src, backend.sqlite_path.parent / src.name)
        return

    async def run() -> None:
        db = await dbmod.connect(backend.url)
        await migrations.upgrade(db)
        await db.close()
        conn = await asyncpg.connect(backend.url)
        try:
            await conn.execute(
                "INSERT INTO generations (id, account_id, key_hash, model, provider, "
                "tokens_prompt, cost, day, created_at, prompt_content) "
                "SELECT 'gen-old-' || lpad(x::text, 8, '0'), 'default', 'k', 'test/old', "
                "'acme', 3, 7, CASE WHEN x % $4 = 0 THEN $2 ELSE '2020-01-01' END, $3, "
                "CASE WHEN x % $4 = 0 THEN 'an old secret prompt' END "
                "FROM generate_series(1, $1) AS x", ROWS, TODAY, OLD, WITH_CONTENT)
        finally:
            await conn.close()

    asyncio.run(run())


class LoopLag:
    """Measures how late a 10 ms sleep wakes up on the gateway's own event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.worst = 0.0
        self._stop = threading.Event()
        self._done = asyncio.run_coroutine_threadsafe(self._watch(), loop)

    async def _watch(self) -> None:
        while not self._stop.is_set():
            t = time.perf_counter()
            await asyncio.sleep(0.01)
            self.worst = max(self.worst, time.perf_counter() - t - 0.01)

    def stop(self) -> float:
        self._stop.set()
        self._done.result(5)
        return self.worst


@pytest.fixture()
def lag_of() -> Iterator[list[LoopLag]]:
    watchers: list[LoopLag] = []
    yield watchers
    for w in watchers:
        w.stop()


def test_purge_and_activity_over_a_million_rows_keep_the_loop_responsive(
    start: Start, upstream: MockUpstream, backend: Backend, million_sqlite: Path,
    lag_of: list[LoopLag],
) -> None:
    _fill(backend, million_sqlite)
    gw: GatewayServer = start(money_config(upstream.url, retain_days=30))
    key = gw.new_key("reader")
    assert gw.app._tasks, "housekeeping runs"
    lag = LoopLag(gw.app._tasks[0].get_loop())
    lag_of.append(lag)
    # the aggregate over the records of the last 30 days (a tenth of them)
    t = time.monotonic()
    r = gw.http.get("/activity", headers=auth(key), timeout=120)
    assert r.status_code == 200, r.text
    rows = [a for a in r.json()["data"] if a["model"] == "test/old"]
    today = ROWS // WITH_CONTENT
    assert rows[0]["requests"] == today and rows[0]["prompt_tokens"] == 3 * today
    activity_s = time.monotonic() - t
    # the housekeeping purge (every 5 s) forgets the old prompts, in batches
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        left = backend.one("SELECT COUNT(*) AS n FROM generations "
                           "WHERE prompt_content IS NOT NULL")["n"]
        if left == 0:
            break
        time.sleep(0.5)
    assert left == 0, f"{left} old prompts still stored"
    time.sleep(6)  # and one more purge with nothing to do
    worst = lag.stop()
    print(f"{backend.kind}: /activity over {today} of {ROWS} rows {activity_s:.2f} s, "
          f"worst loop lag {worst * 1000:.0f} ms")
    assert worst < 0.25, f"the event loop stalled for {worst:.2f} s"
