"""Keys: random, shown once, stored hashed, never logged; each kind may do only its job."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator

import pytest

from tests.money.conftest import Backend, Start
from tests.money.util import auth, chat, dec, exact, money_config, user
from tests.support import GatewayServer, MockUpstream, Reply, openai_completion

KEY_RE = re.compile(r"^sk-sb-v1-[0-9a-f]{64}$")


@pytest.fixture()
def gw(start: Start, upstream: MockUpstream) -> GatewayServer:
    g = start(money_config(upstream.url))
    g.charge(10)
    return g


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        if not record.name.startswith(("httpx", "httpcore", "openai")):  # the test's client
            self.lines.append(f"{record.name}: {text}")


@pytest.fixture()
def server_logs() -> Iterator[_Capture]:
    """Every log record of the gateway's process at DEBUG, whatever the logger."""
    cap = _Capture()
    names = ["", "switchboard", "uvicorn", "uvicorn.error", "uvicorn.access", "asyncpg",
             "aiohttp", "aiohttp.access", "aiohttp.server", "aiohttp.client"]
    saved = {}
    for n in names:
        lg = logging.getLogger(n)
        saved[n] = (lg.level, lg.disabled)
        lg.setLevel(logging.DEBUG)
        lg.disabled = False
        lg.addHandler(cap)
    yield cap
    for n in names:
        lg = logging.getLogger(n)
        lg.removeHandler(cap)
        lg.setLevel(saved[n][0])
        lg.disabled = saved[n][1]


def test_keys_are_random_shown_once_and_stored_hashed(
    gw: GatewayServer, backend: Backend, upstream: MockUpstream, server_logs: _Capture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    r = gw.admin("POST", "/keys", json={"name": "alice", "limit": 1.5, "limit_reset": "daily"})
    assert r.status_code == 201, r.text
    body = r.json()
    key = body["key"]
    assert KEY_RE.match(key)
    data = body["data"]
    assert data["hash"] == hashlib.sha256(key.encode()).hexdigest()
    assert data["name"] == "alice" and data["label"] and key not in data["label"]
    assert data["limit"] == 1.5 and data["limit_remaining"] == 1.5
    assert data["limit_reset"] == "daily" and data["disabled"] is False
    assert data["usage"] == 0 and data["created_at"]
    other = gw.new_key("bob")
    assert KEY_RE.match(other) and other != key
    # never shown again
    got = gw.admin("GET", f"/keys/{data['hash']}")
    assert got.status_code == 200 and key not in got.text and "key" not in got.json()
    listed = gw.admin("GET", "/keys")
    assert key not in listed.text and other not in listed.text
    assert {k["name"] for k in listed.json()["data"]} >= {"alice", "bob"}
    # use the key the ways a client would, including failures that get logged
    upstream.script("/acme/", Reply(json=openai_completion("hi")))
    assert chat(gw, key, {"model": "test/priced", "messages": user("x")}).status_code == 200
    upstream.script("/flaky/", Reply(status=500, json={"error": {"message": "boom"}}),
                    Reply(status=500, json={"error": {"message": "boom"}}))
    assert chat(gw, key, {"model": "test/flaky", "messages": user("x")}).status_code == 502
    assert gw.http.get("/auth/key", headers=auth(key)).status_code == 200
    assert gw.http.get("/keys", headers=auth(key)).status_code == 403
    assert chat(gw, key + "0", {"model": "test/priced", "messages": user("x")}
                ).status_code == 401
    assert gw.admin("PATCH", f"/keys/{data['hash']}", json={"name": "alice2"}).status_code == 200
    assert gw.http.get("/credits", headers=auth(key)).status_code == 200  # flushes the ledger
    # the database holds hashes, never a key
    stored = backend.stored_bytes()
    assert data["hash"].encode() in stored  # the check can see what is there
    for secret in (key, other, gw.admin_key, key[len("sk-sb-v1-"):]):
        assert secret.encode() not in stored, "a key is stored in clear"
    # and no log line or console output carries one
    out, err = capfd.readouterr()
    logged = "\n".join(server_logs.lines) + out + err
    for secret in (key, other, gw.admin_key, key[len("sk-sb-v1-"):], "sk-acme-upstream-secret",
                   "sk-flaky-upstream-secret"):
        assert secret not in logged, "a key was written to the logs"


def test_inference_key_cannot_manage(gw: GatewayServer) -> None:
    key = gw.new_key("plain")
    target = gw.admin("POST", "/keys", json={"name": "target"}).json()["data"]["hash"]
    h = auth(key)
    calls = [
        ("GET", "/keys", None), ("POST", "/keys", {"name": "x"}),
        ("GET", f"/keys/{target}", None), ("PATCH", f"/keys/{target}", {"disabled": True}),
        ("DELETE", f"/keys/{target}", None),
        ("GET", "/accounts", None), ("POST", "/accounts", {"name": "evil"}),
        ("POST", "/credits/charge", {"amount": 1000}),
    ]
    for method, path, body in calls:
        r = gw.http.request(method, path, headers=h, json=body)
        assert r.status_code == 403, (method, path, r.text)
        assert r.headers["content-type"].startswith("application/json")
        assert r.json()["error"]["code"] == 403
    assert dec(exact(gw.http.get("/credits", headers=h))["data"]["total_credits"]) == 10
    assert gw.admin("GET", f"/keys/{target}").json()["data"]["disabled"] is False
    k = gw.http.get("/auth/key", headers=h).json()["data"]
    assert k["is_provisioning_key"] is False and k["is_management_key"] is False


def test_provisioning_key_manages_its_account_only_and_cannot_infer(
    gw: GatewayServer, upstream: MockUpstream
) -> None:
    acct = gw.admin("POST", "/accounts", json={"name": "tenant-a"})
    assert acct.status_code == 201, acct.text
    acct_id = acct.json()["data"]["id"]
    r = gw.admin("POST", "/keys", json={"name": "prov", "provisioning": True,
                                        "account_id": acct_id})
    assert r.status_code == 201, r.text
    prov = r.json()["key"]
    assert KEY_RE.match(prov)
    h = auth(prov)
    default_key_hash = gw.admin("POST", "/keys", json={"name": "default-acct"}
                                ).json()["data"]["hash"]
    # no completions
    for path in ("/chat/completions", "/completions"):
        body = {"model": "test/priced", "messages": user("x"), "prompt": "x"}
        r = gw.http.post(path, headers=h, json=body)
        assert r.status_code == 403, r.text
    assert upstream.hits("/acme/") == []
    # manages keys, in its own account, whatever account_id it names
    made = gw.http.post("/keys", headers=h, json={"name": "child", "limit": 2,
                                                  "account_id": "default"})
    assert made.status_code == 201, made.text
    child = made.json()
    assert KEY_RE.match(child["key"]) and child["data"]["account_id"] == acct_id
    listed = gw.http.get("/keys", headers=h).json()["data"]
    assert "child" in [k["name"] for k in listed]
    assert {k["account_id"] for k in listed} == {acct_id}  # never another account's keys
    ch = child["data"]["hash"]
    assert gw.http.get(f"/keys/{ch}", headers=h).status_code == 200
    p = gw.http.patch(f"/keys/{ch}", headers=h, json={"disabled": True, "limit": 3})
    assert p.status_code == 200 and p.json()["data"]["disabled"] is True
    assert p.json()["data"]["limit"] == 3
    # other accounts' keys do not exist for it
    for method in ("GET", "PATCH", "DELETE"):
        r = gw.http.request(method, f"/keys/{default_key_hash}", headers=h,
                            json={"disabled": True} if method == "PATCH" else None)
        assert r.status_code == 404, (method, r.text)
    assert gw.admin("GET", f"/keys/{default_key_hash}").json()["data"]["disabled"] is False
    # root-only things
    assert gw.http.post("/keys", headers=h, json={"name": "p2", "provisioning": True}
                        ).status_code == 403
    assert gw.http.post("/accounts", headers=h, json={"name": "x"}).status_code == 403
    assert gw.http.get("/accounts", headers=h).status_code == 403
    assert gw.http.post("/credits/charge", headers=h, json={"amount": 5}).status_code == 403
    k = gw.http.get("/auth/key", headers=h).json()["data"]
    assert k["is_provisioning_key"] is True and k["is_management_key"] is True
    assert gw.http.delete(f"/keys/{ch}", headers=h).status_code == 200
    assert gw.http.get(f"/keys/{ch}", headers=h).status_code == 404


def test_root_key_does_everything_but_completions(gw: GatewayServer) -> None:
    r = gw.admin("POST", "/accounts", json={"name": "tenant-b"})
    assert r.status_code == 201
    acct = r.json()["data"]
    assert set(acct) >= {"id", "name", "total_credits", "total_usage", "created_at"}
    assert acct["name"] == "tenant-b" and acct["total_credits"] == 0 == acct["total_usage"]
    assert gw.admin("POST", "/accounts", json={"name": "tenant-b"}).status_code == 409
    names = [a["name"] for a in gw.admin("GET", "/accounts").json()["data"]]
    assert "default" in names and "tenant-b" in names
    c = gw.admin("POST", "/credits/charge", json={"amount": "2.5", "account_id": acct["id"]})
    assert c.status_code == 200 and c.json()["data"]["total_credits"] == 2.5
    assert gw.admin("POST", "/credits/charge", json={"amount": 1, "account_id": "nope"}
                    ).status_code == 404
    for bad in (0, -1, "abc", None, True):
        assert gw.admin("POST", "/credits/charge", json={"amount": bad}).status_code == 400
    k = gw.admin("POST", "/keys", json={"name": "b-key", "account_id": acct["id"]})
    assert k.status_code == 201 and k.json()["data"]["account_id"] == acct["id"]
    assert gw.admin("POST", "/chat/completions", json={
        "model": "test/priced", "messages": user("x")}).status_code == 403


def test_disabled_and_deleted_keys_are_refused(gw: GatewayServer, upstream: MockUpstream) -> None:
    r = gw.admin("POST", "/keys", json={"name": "temp"})
    key, h = r.json()["key"], r.json()["data"]["hash"]
    upstream.default = lambda path, body: Reply(json=openai_completion("ok"))
    body = {"model": "test/priced", "messages": user("x")}
    assert chat(gw, key, body).status_code == 200
    assert gw.admin("PATCH", f"/keys/{h}", json={"disabled": True}).status_code == 200
    assert chat(gw, key, body).status_code == 401
    assert gw.admin("PATCH", f"/keys/{h}", json={"disabled": False}).status_code == 200
    assert chat(gw, key, body).status_code == 200
    assert gw.admin("DELETE", f"/keys/{h}").status_code == 200
    assert chat(gw, key, body).status_code == 401
    assert gw.http.get("/auth/key", headers=auth(key)).status_code == 401
