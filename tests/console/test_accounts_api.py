"""GET/PATCH /accounts/{id}: who may, what is validated, and that the settings act at once —
on this instance, on another instance, and in content retention."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime, timedelta

import httpx

from tests.money.conftest import Backend, Start
from tests.money.util import auth, money_config, user
from tests.support import GatewayServer, MockUpstream, Reply, openai_completion

TRAINING = """
providers:
  - {{name: trainer, api: openai, base_url: "{url}/trainer/v1", api_key: k, trains_on_data: true}}
  - {{name: private, api: openai, base_url: "{url}/private/v1", api_key: k}}
models:
  - id: acme/m
    context_length: 8000
    endpoints:
      - {{provider: trainer, model: m, pricing: {{prompt: 0.1, completion: 0.1}}}}
      - {{provider: private, model: m, pricing: {{prompt: 9, completion: 9}}}}
"""


def ask(gw: GatewayServer, key: str, model: str = "test/priced", **extra: object) -> httpx.Response:
    return gw.http.post("/chat/completions", headers=auth(key),
                        json={"model": model, "messages": user("hi"), **extra})


def test_read_and_change_settings_with_the_right_keys(start: Start,
                                                      upstream: MockUpstream) -> None:
    gw = start(money_config(upstream.url, retain_days=12))
    other = gw.admin("POST", "/accounts", json={"name": "tenant"}).json()["data"]["id"]
    prov = gw.new_key("prov", account_id=other, provisioning=True)
    inference = gw.new_key("plain")

    me = gw.http.get("/accounts/me", headers=auth(prov))
    assert me.status_code == 200, me.text
    data = me.json()["data"]
    assert data["id"] == other and data["data_collection"] == "allow"
    assert data["logging"] == {"store_content": True, "retain_days": 12, "source": "config"}

    r = gw.http.patch(f"/accounts/{other}", headers=auth(prov), json={
        "data_collection": "deny", "logging": {"store_content": False, "retain_days": 3}})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["logging"] == {"store_content": False, "retain_days": 3,
                                           "source": "account"}
    assert gw.admin("GET", f"/accounts/{other}").json()["data"]["data_collection"] == "deny"
    back = gw.http.patch("/accounts/me", headers=auth(prov),
                         json={"logging": {"store_content": None, "retain_days": None}})
    assert back.json()["data"]["logging"]["source"] == "config"

    assert gw.http.get("/accounts/me", headers=auth(inference)).status_code == 403
    assert gw.http.get("/accounts/default", headers=auth(prov)).status_code == 403
    assert gw.http.patch("/accounts/default", headers=auth(prov),
                         json={"data_collection": "deny"}).status_code == 403
    assert gw.admin("GET", "/accounts/acct_nope").status_code == 404
    for body, field in [({"data_collection": "maybe"}, "data_collection"),
                        ({"logging": {"retain_days": -1}}, "logging.retain_days"),
                        ({"logging": {"retain_days": "7"}}, "logging.retain_days"),
                        ({"logging": {"store_content": "no"}}, "logging.store_content"),
                        ({"logging": {"keep": True}}, "logging.keep"),
                        ({"logging": True}, "logging"), ({"colour": "red"}, "colour"),
                        ([], "body")]:
        bad = gw.admin("PATCH", "/accounts/me", json=body)
        assert bad.status_code == 400, (body, bad.text)
        err = bad.json()["error"]
        assert err["code"] == 400 and (field in err["message"] or field == "body")


def test_request_data_collection_overrides_the_account(start: Start,
                                                       upstream: MockUpstream) -> None:
    gw = start("builtin_catalog: false\n" + TRAINING.format(url=upstream.url))
    gw.charge(5)
    key = gw.new_key("dc")
    upstream.default = lambda path, body: Reply(json=openai_completion("ok"))

    def served_by(**extra: object) -> str:
        r = ask(gw, key, "acme/m", **extra)
        assert r.status_code == 200, r.text
        return str(r.headers["OpenRouter-Provider"])

    assert served_by() == "trainer"  # cheapest
    assert gw.admin("PATCH", "/accounts/me", json={"data_collection": "deny"}).status_code == 200
    assert served_by() == "private"  # the account's deny, at once
    assert served_by(provider={"data_collection": "allow"}) == "trainer"  # the request wins
    gw.admin("PATCH", "/accounts/me", json={"data_collection": "allow"})
    assert served_by(provider={"data_collection": "deny"}) == "private"


def test_settings_reach_another_instance_at_once(start: Start, upstream: MockUpstream,
                                                 backend: Backend) -> None:
    if backend.kind != "postgresql":
        return  # two instances share PostgreSQL and Redis
    env = {"SWITCHBOARD_REDIS_URL": "redis://127.0.0.1:6379/9"}
    first = start(money_config(upstream.url), env)
    second = start(money_config(upstream.url), env)
    first.charge(5)
    key = first.new_key("two")
    time.sleep(0.3)  # both subscribed
    assert first.admin("PATCH", "/accounts/me",
                       json={"logging": {"store_content": False}}).status_code == 200
    gen = ask(second, key).json()["id"]
    r = second.http.get("/generation/content", headers=auth(key), params={"id": gen})
    assert r.status_code == 404 and "store_content" in r.json()["error"]["message"]


def test_each_account_keeps_content_for_its_own_retain_days(start: Start,
                                                            upstream: MockUpstream,
                                                            backend: Backend) -> None:
    gw = start(money_config(upstream.url))
    gw.charge(5)
    short = gw.admin("POST", "/accounts", json={"name": "short"}).json()["data"]["id"]
    gw.charge(5, short)
    keep_key, drop_key = gw.new_key("keep"), gw.new_key("drop", account_id=short)
    assert gw.admin("PATCH", f"/accounts/{short}",
                    json={"logging": {"retain_days": 1}}).status_code == 200
    kept, dropped = ask(gw, keep_key).json()["id"], ask(gw, drop_key).json()["id"]
    gw.http.get("/credits", headers=auth(keep_key))  # flush the ledger
    past = datetime.now(UTC) - timedelta(days=2)
    two_days_ago = past.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    backend.sql("UPDATE generations SET created_at = $1", two_days_ago)
    deadline = time.time() + 12  # housekeeping runs every 5 s
    while time.time() < deadline:
        rows = {r["id"]: r for r in backend.sql(
            "SELECT id, prompt_content FROM generations")}
        if rows[dropped]["prompt_content"] is None:
            break
        time.sleep(0.3)
    assert rows[dropped]["prompt_content"] is None
    assert rows[kept]["prompt_content"] is not None  # the default account keeps 30 days
    why = gw.http.get("/generation/content", headers=auth(drop_key), params={"id": dropped})
    assert why.status_code == 404 and "1-day retention" in why.json()["error"]["message"]


def test_activity_grouped_by_app_and_key(start: Start, upstream: MockUpstream) -> None:
    gw = start(money_config(upstream.url))
    gw.charge(5)
    mine, theirs = gw.new_key("mine"), gw.new_key("theirs")
    title = "App " + secrets.token_hex(3)
    for key, headers in [(mine, {"X-Title": title}), (mine, {"X-Title": title}),
                         (mine, {"HTTP-Referer": "https://example.org"}), (theirs, {})]:
        r = gw.http.post("/chat/completions", headers={**auth(key), **headers},
                         json={"model": "test/priced", "messages": user("x")})
        assert r.status_code == 200
    plain = gw.http.get("/activity", headers=auth(mine)).json()["data"]
    assert len(plain) == 1 and plain[0]["requests"] == 4 and "app" not in plain[0]
    by_app = gw.http.get("/activity", headers=auth(mine), params={"group_by": "app"})
    counts = {r["app"]: r["requests"] for r in by_app.json()["data"]}
    assert counts == {title: 2, "https://example.org": 1, None: 1}
    own = gw.http.get("/activity", headers=auth(mine), params={"group_by": "app", "key": "me"})
    assert sum(r["requests"] for r in own.json()["data"]) == 3
    bad = gw.http.get("/activity", headers=auth(mine), params={"group_by": "colour"})
    assert bad.status_code == 400 and "group_by" in bad.json()["error"]["message"]
    theirs_hash = next(k["hash"] for k in gw.admin("GET", "/keys").json()["data"]
                       if k["name"] == "theirs")
    assert gw.http.get("/activity", headers=auth(mine),
                       params={"key": theirs_hash}).status_code == 403
    assert sum(r["requests"] for r in gw.admin(
        "GET", "/activity", params={"key": theirs_hash}).json()["data"]) == 1
