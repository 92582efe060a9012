"""A poisoned record never stops the ledger: absurd numbers are clamped and logged, the
other settlements of the batch are written, and the money endpoints keep answering."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from switchboard.billing.bounds import MAX_COUNT, MAX_REQUEST_PICO
from switchboard.billing.ledger import Ledger, Settlement
from switchboard.errors import GatewayError
from tests.money.conftest import Backend, Start
from tests.money.test_ledger import _funded_key, gen
from tests.money.util import PICO, auth, flat_cost, money_config, user
from tests.support import MockUpstream, Reply, openai_completion


def test_a_batch_with_an_absurd_settlement_is_written_and_the_absurd_one_clamped(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    async def main() -> None:
        db, repo, key = await _funded_key(backend.url)
        ledger = Ledger(db)
        for gid in ("gen-a", "gen-bad", "gen-b"):
            await ledger.hold(gid, key, 1000)
        bad = gen("gen-bad", key, 10**25)  # beyond 64 bits
        bad.update(tokens_prompt=10**16, native_tokens_prompt=10**16, provider_cost=10**24)
        ledger.settle(Settlement("gen-a", key, 100, gen("gen-a", key, 100)))
        ledger.settle(Settlement("gen-bad", key, 10**25, bad))
        ledger.settle(Settlement("gen-b", key, 200, gen("gen-b", key, 200)))
        await ledger.flush()
        assert ledger._pending == []
        acc = await repo.get_account("default")
        assert acc is not None
        # the absurd one is charged what was held for it, the others exactly
        assert (acc["usage"], acc["reserved"]) == (100 + 1000 + 200, 0)
        rows = {g["id"]: g for g in await db.fetchall(
            "SELECT id, cost, provider_cost, tokens_prompt FROM generations")}
        assert set(rows) == {"gen-a", "gen-bad", "gen-b"}
        assert rows["gen-bad"]["cost"] == 1000
        assert rows["gen-bad"]["tokens_prompt"] == MAX_COUNT
        assert rows["gen-bad"]["provider_cost"] == MAX_REQUEST_PICO
        await db.close()

    with caplog.at_level(logging.WARNING, logger="switchboard.ledger"):
        asyncio.run(main())
    assert any("anomaly" in r.getMessage() for r in caplog.records)


def test_a_hold_beyond_64_bits_is_a_402_not_an_overflow(backend: Backend) -> None:
    async def main() -> None:
        db, _repo, key = await _funded_key(backend.url)
        ledger = Ledger(db)
        for amount in (2**63 + 5, 10**30, MAX_REQUEST_PICO + 1):
            with pytest.raises(GatewayError) as info:
                await ledger.hold(f"gen-{amount}", key, amount)
            assert info.value.status == 402
        await ledger.hold("gen-ok", key, 10)
        await db.close()

    asyncio.run(main())


def test_upstream_reporting_1e16_tokens_does_not_stop_billing(
    start: Start, upstream: MockUpstream, backend: Backend
) -> None:
    gw = start(money_config(upstream.url))
    gw.charge(10)
    key = gw.new_key("poison")
    assert gw.app.svc is not None
    gw.app.svc.ledger.flush_interval_s = 3600.0  # the three settlements share one batch
    time.sleep(0.1)
    upstream.script("/acme/", Reply(json=openai_completion("ok", prompt=9, completion=100)),
                    Reply(json=openai_completion("ok", prompt=10**16, completion=10**16)),
                    Reply(json=openai_completion("ok", prompt=9, completion=100)))
    ids = []
    for i in range(3):
        r = gw.http.post("/chat/completions", headers=auth(key),
                         json={"model": "test/flat", "messages": user(f"q{i}"),
                               "max_tokens": 100})
        assert r.status_code == 200, r.text
        ids.append(r.headers["x-generation-id"])
    for path in ("/credits", "/auth/key", "/key", "/activity"):
        r = gw.http.get(path, headers=auth(key))
        assert r.status_code == 200, (path, r.text)
    for gid in ids:
        r = gw.http.get("/generation", params={"id": gid}, headers=auth(key))
        assert r.status_code == 200, r.text
    # every request charged: the poisoned one no more than its hold (its worst case)
    acc = backend.one("SELECT usage, reserved FROM accounts WHERE id = 'default'")
    assert acc["reserved"] == 0 and backend.sql("SELECT id FROM holds") == []
    assert acc["usage"] == 3 * int(flat_cost() / PICO)
    # and billing goes on afterwards
    r = gw.http.post("/chat/completions", headers=auth(key),
                     json={"model": "test/flat", "messages": user("after"), "max_tokens": 100})
    assert r.status_code == 200
    assert gw.http.get("/credits", headers=auth(key)).status_code == 200
    assert len(backend.sql("SELECT id FROM generations")) == 4
