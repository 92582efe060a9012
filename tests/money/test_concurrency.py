"""Reserve-then-settle under load: 200 requests at once against a balance (or a key limit)
that covers exactly 20 worst-case holds; on one instance, and on two sharing PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.money.conftest import Backend, Start
from tests.money.util import (
    FLAT_MAX_TOKENS,
    PICO,
    auth,
    burst,
    dec,
    exact,
    flat_cost,
    flat_default,
    money_config,
    user,
)
from tests.support import GatewayServer, MockUpstream

N = 200
FITS = 20
SLACK = Decimal("0.001")  # less than one more hold


def body_of(i: int) -> dict[str, Any]:
    return {"model": "test/flat", "messages": user(f"question {i}"),
            "max_tokens": FLAT_MAX_TOKENS, "stream": i % 2 == 0}


def check_ledger(backend: Backend, gateways: list[GatewayServer], key: str,
                 results: list[tuple[int, str | None, Decimal | None]]) -> None:
    cost = flat_cost()
    statuses = sorted({r[0] for r in results})
    assert set(statuses) <= {200, 402}, statuses
    served = [r for r in results if r[0] == 200]
    assert len(served) == FITS, f"{len(served)} served; exactly {FITS} holds fit"
    assert all(r[2] == cost for r in served)  # what each client was told it paid
    for gw in gateways:  # each instance flushes its own settlement queue
        assert gw.http.get("/credits", headers=auth(key)).status_code == 200
    gens = backend.sql("SELECT id, cost, status FROM generations")
    assert sorted(g["id"] for g in gens) == sorted(r[1] for r in served)  # each once
    assert all(g["status"] == 200 and g["cost"] == int(cost / PICO) for g in gens)
    total = sum(g["cost"] for g in gens)
    acc = backend.one("SELECT credits, usage, reserved FROM accounts WHERE id = 'default'")
    assert acc["reserved"] == 0 and acc["usage"] == total
    assert acc["credits"] - acc["usage"] >= 0
    k = backend.one("SELECT usage, reserved FROM api_keys WHERE hash = "
                    "(SELECT key_hash FROM generations LIMIT 1)")
    assert k == {"usage": total, "reserved": 0}
    assert backend.sql("SELECT * FROM holds") == []
    c = exact(gateways[0].http.get("/credits", headers=auth(key)))["data"]
    assert dec(c["total_usage"]) == FITS * cost == total * PICO
    assert dec(c["total_credits"]) >= dec(c["total_usage"])


def test_balance_never_below_zero_under_concurrency(
    start: Start, upstream: MockUpstream, backend: Backend
) -> None:
    gw = start(money_config(upstream.url))
    upstream.default = flat_default(delay_s=0.3)  # all holds overlap
    gw.charge(float(FITS * flat_cost() + SLACK))
    key = gw.new_key("burst")
    results = burst([(gw, key)], N, body_of)
    check_ledger(backend, [gw], key, results)
    refused = next(r for r in results if r[0] == 402)
    assert refused[1] is None


def test_key_limit_holds_under_concurrency(
    start: Start, upstream: MockUpstream, backend: Backend
) -> None:
    gw = start(money_config(upstream.url))
    upstream.default = flat_default(delay_s=0.3)
    gw.charge(100)
    limit = FITS * flat_cost() + SLACK
    key = gw.new_key("limited", limit=str(limit))
    results = burst([(gw, key)], N, body_of)
    cost = flat_cost()
    assert sum(r[0] == 200 for r in results) == FITS
    assert {r[0] for r in results} <= {200, 402}
    k = exact(gw.http.get("/auth/key", headers=auth(key)))["data"]
    assert dec(k["usage"]) == FITS * cost
    assert dec(k["limit_remaining"]) == limit - FITS * cost >= 0
    row = backend.one("SELECT usage, reserved, period_usage FROM api_keys WHERE name = 'limited'")
    assert row == {"usage": int(FITS * cost / PICO), "reserved": 0,
                   "period_usage": int(FITS * cost / PICO)}
    acc = backend.one("SELECT usage, reserved FROM accounts WHERE id = 'default'")
    assert acc == {"usage": int(FITS * cost / PICO), "reserved": 0}
    # the limit refuses, the account would have paid: the 402 says which
    r = gw.http.post("/chat/completions", headers=auth(key), json=body_of(1))
    assert r.status_code == 402 and r.json()["error"]["code"] == 402
    assert "limit" in r.json()["error"]["message"]


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_two_instances_share_balance_on_postgres(
    start: Start, upstream: MockUpstream, backend: Backend
) -> None:
    a = start(money_config(upstream.url))
    b = start(money_config(upstream.url))
    upstream.default = flat_default(delay_s=0.3)
    a.charge(float(FITS * flat_cost() + SLACK))
    key = a.new_key("shared")
    results = burst([(a, key), (b, key)], N, body_of)
    check_ledger(backend, [a, b], key, results)
    # both instances report the same, global totals
    ca = exact(a.http.get("/credits", headers=auth(key)))["data"]
    cb = exact(b.http.get("/credits", headers=auth(key)))["data"]
    assert ca == cb


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_two_instances_share_key_limit_on_postgres(
    start: Start, upstream: MockUpstream, backend: Backend
) -> None:
    a = start(money_config(upstream.url))
    b = start(money_config(upstream.url))
    upstream.default = flat_default(delay_s=0.3)
    a.charge(100)
    limit = FITS * flat_cost() + SLACK
    key = b.new_key("limited", limit=str(limit))
    results = burst([(a, key), (b, key)], N, body_of)
    served = [r for r in results if r[0] == 200]
    assert len(served) == FITS and {r[0] for r in results} <= {200, 402}
    for gw in (a, b):
        gw.http.get("/credits", headers=auth(key))
    row = backend.one("SELECT usage, reserved FROM api_keys WHERE name = 'limited'")
    assert row == {"usage": int(FITS * flat_cost() / PICO), "reserved": 0}
    assert sum(g["cost"] for g in backend.sql("SELECT cost FROM generations")) == row["usage"]


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)  # SQLite: one connection
@pytest.mark.parametrize("instances", [1, 2])
def test_many_accounts_at_once_all_served_and_settled(
    start: Start, upstream: MockUpstream, backend: Backend, instances: int
) -> None:
    """Holds and settlements of several accounts interleave (group commits on each
    instance); none may fail or be lost, whatever order the rows get locked in."""
    gws = [start(money_config(upstream.url)) for _ in range(instances)]
    upstream.default = flat_default(delay_s=0.05)
    keys = []
    for i in range(4):
        acct = gws[0].admin("POST", "/accounts", json={"name": f"t{i}"}).json()["data"]["id"]
        gws[0].charge(10, account_id=acct)
        keys.append((acct, gws[0].admin("POST", "/keys", json={
            "name": f"k{i}", "account_id": acct}).json()["key"]))
    targets = [(gws[(i // 4) % instances], keys[(i * 3 + i // 4) % 4][1]) for i in range(16)]
    results = burst(targets, N, body_of)
    statuses = [r[0] for r in results]
    assert statuses.count(200) == N, {s: statuses.count(s) for s in set(statuses)}
    for gw in gws:
        for _, key in keys:
            gw.http.get("/credits", headers=auth(key))
    cost = int(flat_cost() / PICO)
    per_account = {r["account_id"]: r["n"] for r in backend.sql(
        "SELECT account_id, COUNT(*) AS n FROM generations GROUP BY account_id")}
    assert sum(per_account.values()) == N
    for acct, _ in keys:
        row = backend.one("SELECT usage, reserved FROM accounts WHERE id = $1", acct)
        assert row == {"usage": per_account[acct] * cost, "reserved": 0}
    assert backend.sql("SELECT id FROM holds") == []
