"""GET /generations and /generation/content: scope, filters, paging, and why content is
missing."""

from __future__ import annotations

import time

import httpx

from tests.money.conftest import Start
from tests.money.util import auth, money_config, user
from tests.support import GatewayServer, MockUpstream, Reply, openai_completion


def ask(gw: GatewayServer, key: str, text: str, **headers: str) -> str:
    r = gw.http.post("/chat/completions", headers={**auth(key), **headers},
                     json={"model": "test/priced", "messages": user(text)})
    assert r.status_code == 200, r.text
    time.sleep(0.003)  # created_at has millisecond resolution: keep "newest first" defined
    return str(r.json()["id"])


def listing(gw: GatewayServer, api_key: str, **params: str) -> httpx.Response:
    return gw.http.get("/generations", headers=auth(api_key), params=params)


def ids(r: httpx.Response) -> list[str]:
    assert r.status_code == 200, r.text
    return [g["id"] for g in r.json()["data"]]


def key_hash(gw: GatewayServer, name: str) -> str:
    rows = gw.admin("GET", "/keys").json()["data"]
    return str(next(k["hash"] for k in rows if k["name"] == name))


def test_scope_inference_key_own_provisioning_account_root_all(
        start: Start, upstream: MockUpstream) -> None:
    gw = start(money_config(upstream.url))
    gw.charge(5)
    other = gw.admin("POST", "/accounts", json={"name": "other"}).json()["data"]["id"]
    gw.charge(5, other)
    k1, k2 = gw.new_key("k1"), gw.new_key("k2")
    k3 = gw.new_key("k3", account_id=other)
    prov = gw.new_key("p-other", account_id=other, provisioning=True)
    g1 = [ask(gw, k1, "one"), ask(gw, k1, "two")]
    g2 = ask(gw, k2, "three")
    g3 = ask(gw, k3, "four")

    assert ids(listing(gw, k1)) == g1[::-1]  # own only, newest first
    assert ids(listing(gw, k1, key=key_hash(gw, "k2"))) == []  # never another key's
    assert ids(listing(gw, k2)) == [g2]
    assert ids(listing(gw, prov)) == [g3]  # its account only
    assert ids(listing(gw, prov, key=key_hash(gw, "k1"))) == []
    refused = listing(gw, prov, account="default")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == 403
    everything = ids(gw.admin("GET", "/generations"))
    assert set(everything) == {*g1, g2, g3} and everything[0] == g3
    assert ids(gw.admin("GET", "/generations", params={"account": other})) == [g3]
    row = listing(gw, k1).json()["data"][0]
    assert row["model"] == "test/priced" and row["provider_name"] == "Acme AI"
    assert row["content_stored"] is True and row["total_cost"] > 0

    # content: same account only
    assert gw.http.get("/generation/content", headers=auth(k3),
                       params={"id": g1[0]}).status_code == 404
    assert gw.http.get("/generation/content", headers=auth(prov),
                       params={"id": g1[0]}).status_code == 404


def test_paging_and_filters(start: Start, upstream: MockUpstream) -> None:
    gw = start(money_config(upstream.url))
    gw.charge(5)
    key = gw.new_key("pager")
    made = [ask(gw, key, f"m{i}", **({"X-Title": "Notebook"} if i % 2 else {}))
            for i in range(5)]
    upstream.script("/acme/", Reply(status=400, json={"error": {"message": "bad"}}))
    failed = gw.http.post("/chat/completions", headers=auth(key),
                          json={"model": "test/priced", "messages": user("boom")})
    assert failed.status_code == 400

    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = listing(gw, key, **params)
        assert page.status_code == 200 and len(page.json()["data"]) <= 2
        seen += ids(page)
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen[1:] == made[::-1] and len(set(seen)) == 6

    assert ids(listing(gw, key, app="Notebook")) == [made[3], made[1]]
    assert ids(listing(gw, key, status="success")) == made[::-1]
    assert len(ids(listing(gw, key, status="error"))) == 1
    assert ids(listing(gw, key, status="400")) == [seen[0]]
    assert ids(listing(gw, key, provider="acme", status="success")) == made[::-1]
    assert ids(listing(gw, key, provider="Acme AI", status="success")) == made[::-1]
    assert ids(listing(gw, key, model="other/model")) == []
    assert ids(listing(gw, key, to="2000-01-01")) == []
    assert len(ids(listing(gw, key, **{"from": "2000-01-01T00:00:00Z"}))) == 6

    for params, field in [({"limit": "0"}, "limit"), ({"limit": "x"}, "limit"),
                          ({"cursor": "!!"}, "cursor"), ({"status": "weird"}, "status"),
                          ({"from": "yesterday"}, "from")]:
        bad = listing(gw, key, **params)
        assert bad.status_code == 400, (params, bad.text)
        assert field in bad.json()["error"]["message"]


def test_content_stored_then_logging_off_says_why(start: Start, upstream: MockUpstream) -> None:
    gw = start(money_config(upstream.url))
    gw.charge(5)
    key = gw.new_key("content")
    upstream.script("/acme/", Reply(json=openai_completion("kept answer")),
                    Reply(json=openai_completion("dropped answer")))
    first = ask(gw, key, "kept prompt")
    r = gw.http.get("/generation/content", headers=auth(key), params={"id": first})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["input"]["messages"] == user("kept prompt")
    assert data["output"] == {"completion": "kept answer", "reasoning": None}
    assert data["error"] is None

    off = gw.admin("PATCH", "/accounts/me", json={"logging": {"store_content": False}})
    assert off.status_code == 200 and off.json()["data"]["logging"]["store_content"] is False
    second = ask(gw, key, "dropped prompt")
    missing = gw.http.get("/generation/content", headers=auth(key), params={"id": second})
    assert missing.status_code == 404
    assert "store_content" in missing.json()["error"]["message"]
    row = listing(gw, key).json()["data"][0]
    assert row["id"] == second and row["content_stored"] is False

    unknown = gw.http.get("/generation/content", headers=auth(key), params={"id": "gen-x"})
    assert unknown.status_code == 404 and "not found" in unknown.json()["error"]["message"]
    no_id = gw.http.get("/generation/content", headers=auth(key))
    assert no_id.status_code == 400 and "id" in no_id.json()["error"]["message"]
