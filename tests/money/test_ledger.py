"""The ledger itself: atomic holds, settle exactly once, nothing lost on a clean shutdown."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from switchboard.billing.ledger import Ledger, Settlement
from switchboard.errors import GatewayError
from switchboard.store import db as dbmod
from switchboard.store import migrations
from switchboard.store.repo import KeyRecord, Repo
from tests.money.conftest import Backend, Start
from tests.money.util import FLAT_MAX_TOKENS, PICO, flat_cost, flat_default, money_config, user
from tests.support import MockUpstream


async def _setup(url: str) -> tuple[object, Repo]:
    db = await dbmod.connect(url)
    await migrations.upgrade(db)
    repo = Repo(db)
    await repo.ensure_default_account()
    return db, repo


async def _funded_key(url: str, **key_fields: Any) -> tuple[Any, Repo, KeyRecord]:
    """A migrated database whose default account holds $1, and one key of it."""
    db, repo = await _setup(url)
    await repo.grant_credits("default", 10**12)
    _, row = await repo.create_key("default", "k", **key_fields)
    key = await repo.key_record(row["hash"])
    assert key is not None
    return db, repo, key


def gen(gen_id: str, key: KeyRecord, cost: int) -> dict[str, Any]:
    """A generation record as the chat handler hands it to the ledger."""
    zero = dict.fromkeys(
        ("provider_cost", "tokens_prompt", "tokens_completion", "native_tokens_prompt",
         "native_tokens_completion", "native_tokens_reasoning", "native_tokens_cached",
         "native_tokens_cache_write", "num_media_prompt"), 0)
    return {"id": gen_id, "account_id": key.account_id, "key_hash": key.hash, "model": "m",
            "cost": cost, "status": 200, "streamed": False, "cancelled": False, **zero}


def test_settle_is_idempotent_by_generation_id(backend: Backend) -> None:
    async def main() -> None:
        db, repo, key = await _funded_key(backend.url)
        ledger = Ledger(db)
        other = Ledger(db)  # a second writer (as another instance would be)
        await ledger.hold("gen-1", key, 1000)
        s = Settlement("gen-1", key, 123, gen("gen-1", key, 123))
        ledger.settle(s)
        ledger.settle(s)
        other.settle(s)
        await asyncio.gather(ledger.flush(), other.flush())
        ledger.settle(s)
        await ledger.flush()
        acc = await repo.get_account("default")
        assert acc is not None and (acc["usage"], acc["reserved"]) == (123, 0)
        k = await repo.get_key(key.hash)
        assert k is not None and (k["usage"], k["reserved"]) == (123, 0)
        assert len(await db.fetchall("SELECT id FROM generations")) == 1
        # a release (nothing served) then a late settle: still nothing charged twice
        await ledger.hold("gen-2", key, 500)
        ledger.settle(Settlement("gen-2", key, 0, None))
        await ledger.flush()
        ledger.settle(Settlement("gen-2", key, 77, gen("gen-2", key, 77)))
        await ledger.flush()
        acc = await repo.get_account("default")
        assert acc is not None and (acc["usage"], acc["reserved"]) == (123, 0)
        await db.close()

    asyncio.run(main())


def test_hold_is_all_or_nothing(backend: Backend) -> None:
    async def main() -> None:
        db, repo, key = await _funded_key(backend.url, limit_pico=100)
        ledger = Ledger(db)
        with pytest.raises(GatewayError) as info:
            await ledger.hold("gen-x", key, 101)  # the account could, the key cannot
        assert info.value.status == 402
        acc = await repo.get_account("default")
        assert acc is not None and acc["reserved"] == 0  # the account part was rolled back
        assert await db.fetchall("SELECT id FROM holds") == []
        await ledger.hold("gen-y", key, 100)
        with pytest.raises(GatewayError):
            await ledger.hold("gen-z", key, 1)
        await db.close()

    asyncio.run(main())


def test_stale_holds_are_released(backend: Backend) -> None:
    async def main() -> None:
        db, repo, key = await _funded_key(backend.url)
        ledger = Ledger(db, lease_s=0.0)
        await ledger.hold("gen-crashed", key, 5000)
        await asyncio.sleep(0.01)
        assert await ledger.release_stale() == 1
        acc = await repo.get_account("default")
        k = await repo.get_key(key.hash)
        assert acc is not None and k is not None
        assert acc["reserved"] == 0 and k["reserved"] == 0 and acc["usage"] == 0
        await db.close()

    asyncio.run(main())


def test_usage_records_survive_a_clean_shutdown(
    start: Start, upstream: MockUpstream, backend: Backend
) -> None:
    gw = start(money_config(upstream.url))
    upstream.default = flat_default()
    gw.charge(1)
    key = gw.new_key("durable")
    assert gw.app.svc is not None
    gw.app.svc.ledger.flush_interval_s = 3600.0  # the writer now sleeps: settlements queue up
    time.sleep(0.1)
    ids = []
    for i in range(5):
        r = gw.http.post("/chat/completions", headers={"Authorization": f"Bearer {key}"},
                         json={"model": "test/flat", "messages": user(f"q{i}"),
                               "max_tokens": FLAT_MAX_TOKENS, "stream": i % 2 == 1})
        assert r.status_code == 200
        ids.append(r.headers["x-generation-id"])
    # answered, but not yet written: the record is off the hot path
    assert backend.sql("SELECT id FROM generations") == []
    gw.stop()
    gens = backend.sql("SELECT id, cost FROM generations")
    assert sorted(g["id"] for g in gens) == sorted(ids)
    acc = backend.one("SELECT usage, reserved FROM accounts WHERE id = 'default'")
    assert acc == {"usage": 5 * int(flat_cost() / PICO), "reserved": 0}
    assert backend.sql("SELECT id FROM holds") == []
