"""Balances and holds: 402 when the worst case does not fit, accounts kept apart."""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from typing import Any

from tests.money.conftest import Backend, Start
from tests.money.util import (
    FLAT_MAX_TOKENS,
    PICO,
    auth,
    chat,
    dec,
    exact,
    flat_cost,
    flat_default,
    money_config,
    user,
)
from tests.support import GatewayServer, MockUpstream, Reply, openai_completion

FLAT = {"model": "test/flat", "messages": user("x"), "max_tokens": FLAT_MAX_TOKENS}
FREE = {"model": "test/free:free", "messages": user("x")}


def free_per_day(k: dict[str, Any]) -> int:
    v = k["free_model_daily_requests"]
    return int(v["limit"] if isinstance(v, dict) else v)


def new_account(gw: GatewayServer, name: str) -> tuple[str, str]:
    acct = gw.admin("POST", "/accounts", json={"name": name}).json()["data"]["id"]
    key = gw.admin("POST", "/keys", json={"name": f"{name}-key", "account_id": acct}
                   ).json()["key"]
    return acct, key


def test_new_account_starts_at_zero_and_402s_paid_models(
    start: Start, upstream: MockUpstream, backend: Backend
) -> None:
    gw = start(money_config(upstream.url))
    upstream.default = flat_default()
    acct, key = new_account(gw, "newbie")
    c = exact(gw.http.get("/credits", headers=auth(key)))["data"]
    assert dec(c["total_credits"]) == 0 and dec(c["total_usage"]) == 0
    k = gw.http.get("/auth/key", headers=auth(key)).json()["data"]
    assert k["is_free_tier"] is True and free_per_day(k) == 200
    r = chat(gw, key, FLAT)
    assert r.status_code == 402, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["error"]["code"] == 402
    assert upstream.hits("/acme/") == []
    # a zero-priced model runs on a $0 balance
    assert chat(gw, key, FREE).status_code == 200
    # less than one worst case: still refused; exactly one: served
    gw.charge(float(flat_cost() - Decimal("0.000001")), account_id=acct)
    assert chat(gw, key, FLAT).status_code == 402
    gw.charge(0.000001, account_id=acct)
    r = chat(gw, key, FLAT)
    assert r.status_code == 200, r.text
    assert chat(gw, key, FLAT).status_code == 402  # spent to exactly zero
    c = exact(gw.http.get("/credits", headers=auth(key)))["data"]
    assert dec(c["total_credits"]) == dec(c["total_usage"]) == flat_cost()
    k = gw.http.get("/auth/key", headers=auth(key)).json()["data"]
    assert k["is_free_tier"] is False
    acc = backend.one("SELECT credits, usage, reserved FROM accounts WHERE id = $1", acct)
    assert acc["credits"] - acc["usage"] == 0 and acc["reserved"] == 0
    # the default account was never touched
    d = backend.one("SELECT credits, usage FROM accounts WHERE id = 'default'")
    assert d == {"credits": 0, "usage": 0}


def test_negative_balance_refuses_everything_even_free(
    start: Start, upstream: MockUpstream, backend: Backend
) -> None:
    gw = start(money_config(upstream.url))
    upstream.default = flat_default()
    acct, key = new_account(gw, "debtor")
    gw.charge(1, account_id=acct)
    assert chat(gw, key, FREE).status_code == 200
    # an upstream counted more than estimated: the account went below zero
    backend.sql("UPDATE accounts SET usage = credits + 1000 WHERE id = $1", acct)
    r = chat(gw, key, FREE)
    assert r.status_code == 402, r.text
    assert chat(gw, key, FLAT).status_code == 402


def test_hold_is_the_worst_case_and_released_after(
    start: Start, upstream: MockUpstream, backend: Backend
) -> None:
    gw = start(money_config(upstream.url))
    gw.charge(1)
    key = gw.new_key("holder", limit=1)
    upstream.script("/acme/", Reply(json=openai_completion("slow", prompt=3, completion=7),
                                    delay_s=0.8))
    result: dict[str, object] = {}
    body = {"model": "test/flat", "messages": user("x")}  # no max_tokens: the endpoint's cap
    t = threading.Thread(target=lambda: result.update(r=chat(gw, key, body)))
    t.start()
    deadline = time.time() + 5
    held = 0
    while time.time() < deadline and not held:
        held = backend.one("SELECT reserved FROM accounts WHERE id = 'default'")["reserved"]
        time.sleep(0.02)
    assert held == int(flat_cost() / PICO)  # max_completion_tokens at the price, + fee, + markup
    assert backend.one("SELECT reserved FROM api_keys WHERE name = 'holder'")["reserved"] == held
    assert len(backend.sql("SELECT id FROM holds")) == 1
    t.join(10)
    r = result["r"]
    assert r.status_code == 200  # type: ignore[attr-defined]
    gw.http.get("/credits", headers=auth(key))
    acc = backend.one("SELECT usage, reserved FROM accounts WHERE id = 'default'")
    actual = (7 * Decimal(10) / 1_000_000 + Decimal("0.001")) * Decimal("1.1")
    assert acc == {"usage": int(actual / PICO), "reserved": 0}


def test_accounts_are_kept_apart(start: Start, upstream: MockUpstream) -> None:
    gw = start(money_config(upstream.url))
    upstream.default = flat_default()
    a_acct, a_key = new_account(gw, "tenant-a")
    b_acct, b_key = new_account(gw, "tenant-b")
    gw.charge(1, account_id=a_acct)
    gw.charge(2, account_id=b_acct)
    r = chat(gw, a_key, FLAT)
    assert r.status_code == 200
    gen = r.json()["id"]
    assert gw.http.get("/generation", params={"id": gen}, headers=auth(a_key)).status_code == 200
    assert gw.http.get("/generation", params={"id": gen}, headers=auth(b_key)).status_code == 404
    assert len(gw.http.get("/activity", headers=auth(a_key)).json()["data"]) == 1
    assert gw.http.get("/activity", headers=auth(b_key)).json()["data"] == []
    ca = exact(gw.http.get("/credits", headers=auth(a_key)))["data"]
    cb = exact(gw.http.get("/credits", headers=auth(b_key)))["data"]
    assert (dec(ca["total_credits"]), dec(ca["total_usage"])) == (1, flat_cost())
    assert (dec(cb["total_credits"]), dec(cb["total_usage"])) == (2, 0)
    rows = {a["id"]: a for a in exact(gw.admin("GET", "/accounts"))["data"]}
    assert dec(rows[a_acct]["total_usage"]) == flat_cost()
    # the charge without account_id goes to the default account
    c = gw.admin("POST", "/credits/charge", json={"amount": 3})
    assert c.status_code == 200 and c.json()["data"]["account_id"] == "default"
    assert dec(exact(c)["data"]["total_credits"]) == 3


def test_ten_dollars_bought_lifts_the_free_daily_limit(
    start: Start, upstream: MockUpstream
) -> None:
    gw = start(money_config(upstream.url))
    acct, key = new_account(gw, "buyer")
    gw.charge(4, account_id=acct)
    k = gw.http.get("/auth/key", headers=auth(key)).json()["data"]
    assert k["is_free_tier"] is False and free_per_day(k) == 200
    gw.charge(6, account_id=acct)
    k = gw.http.get("/auth/key", headers=auth(key)).json()["data"]
    assert free_per_day(k) == 1000


def test_key_limit_resets_with_its_period_and_follows_patches(
    start: Start, upstream: MockUpstream, backend: Backend
) -> None:
    gw = start(money_config(upstream.url))
    upstream.default = flat_default()
    gw.charge(10)
    cost = flat_cost()
    r = gw.admin("POST", "/keys", json={"name": "daily", "limit": str(cost),
                                        "limit_reset": "daily"})
    key, h = r.json()["key"], r.json()["data"]["hash"]
    assert chat(gw, key, FLAT).status_code == 200
    assert chat(gw, key, FLAT).status_code == 402  # the day's limit is spent
    k = exact(gw.http.get("/auth/key", headers=auth(key)))["data"]
    assert dec(k["limit_remaining"]) == 0
    # a new day: what was spent yesterday no longer counts against the limit
    backend.sql("UPDATE api_keys SET period_start = '2000-01-01' WHERE hash = $1", h)
    k = exact(gw.http.get("/auth/key", headers=auth(key)))["data"]
    assert dec(k["limit_remaining"]) == cost
    assert chat(gw, key, FLAT).status_code == 200
    assert chat(gw, key, FLAT).status_code == 402
    k = exact(gw.http.get("/auth/key", headers=auth(key)))["data"]
    assert dec(k["usage"]) == 2 * cost and dec(k["limit_remaining"]) == 0
    # raising the limit takes effect at once
    assert gw.admin("PATCH", f"/keys/{h}", json={"limit": str(2 * cost)}).status_code == 200
    assert chat(gw, key, FLAT).status_code == 200
    assert chat(gw, key, FLAT).status_code == 402
    gw.http.get("/credits", headers=auth(key))  # flush the settlements
    row = backend.one("SELECT usage, period_usage, reserved FROM api_keys WHERE hash = $1", h)
    assert row == {"usage": int(3 * cost / PICO), "period_usage": int(2 * cost / PICO),
                   "reserved": 0}
