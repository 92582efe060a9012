"""Root keys: listed for root, disable-able and deletable but never the last working one,
rotated by `switchboard admin rotate`, and the old SWITCHBOARD_ADMIN_KEY stops working when
the gateway restarts with a new one."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import subprocess
import sys
import time

from switchboard.store import root_keys
from tests.money.conftest import Backend, Start
from tests.money.test_ledger import _setup
from tests.money.util import auth, money_config
from tests.support import GatewayServer, MockUpstream


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _rotate(backend: Backend) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    env["SWITCHBOARD_DATABASE_URL"] = backend.url
    out = subprocess.run([sys.executable, "-m", "switchboard.cli.main", "admin", "rotate"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out
    found = re.findall(r"sk-sb-v1-[0-9a-f]{64}", out.stdout)
    assert len(found) == 1, out.stdout
    assert found[0] not in out.stderr
    return found[0]


def _works(gw: GatewayServer, key: str, within_s: float = 3.0) -> bool:
    """Whether the key is accepted, waiting out the 2 s cache of another process's change."""
    deadline = time.monotonic() + within_s
    while True:
        ok = gw.http.get("/keys", headers=auth(key)).status_code == 200
        if time.monotonic() > deadline:
            return ok
        if not ok:
            return False
        time.sleep(0.2)


def test_root_keys_are_listed_for_root_only(start: Start, upstream: MockUpstream) -> None:
    gw = start(money_config(upstream.url))
    listed = gw.admin("GET", "/keys").json()["data"]
    assert _hash(gw.admin_key) in {k["hash"] for k in listed}
    assert gw.admin("GET", f"/keys/{_hash(gw.admin_key)}").status_code == 200
    prov = gw.admin("POST", "/keys", json={"name": "p", "provisioning": True}).json()["key"]
    seen = gw.http.get("/keys", headers=auth(prov)).json()["data"]
    assert _hash(gw.admin_key) not in {k["hash"] for k in seen}
    assert gw.http.get(f"/keys/{_hash(gw.admin_key)}", headers=auth(prov)).status_code == 404
    assert gw.http.delete(f"/keys/{_hash(gw.admin_key)}",
                          headers=auth(prov)).status_code == 404


def test_the_last_working_root_key_cannot_go_and_rotate_replaces_it(
    start: Start, upstream: MockUpstream, backend: Backend
) -> None:
    gw = start(money_config(upstream.url))
    env_hash = _hash(gw.admin_key)
    for r in (gw.admin("PATCH", f"/keys/{env_hash}", json={"disabled": True}),
              gw.admin("DELETE", f"/keys/{env_hash}")):
        assert r.status_code == 409, r.text
        assert r.json()["error"]["code"] == 409 and "last" in r.json()["error"]["message"]
    assert _works(gw, gw.admin_key, 0)

    rotated = _rotate(backend)  # a second root key, shown once
    assert _works(gw, rotated, 0)
    hashes = {k["hash"] for k in gw.http.get("/keys", headers=auth(rotated)).json()["data"]}
    assert {env_hash, _hash(rotated)} <= hashes
    assert backend.sql("SELECT hash FROM api_keys WHERE hash = $1", rotated) == []  # hashed
    # now the environment's key may be disabled, then deleted
    r = gw.http.patch(f"/keys/{env_hash}", headers=auth(rotated), json={"disabled": True})
    assert r.status_code == 200 and r.json()["data"]["disabled"] is True
    assert gw.admin("GET", "/keys").status_code == 401
    assert gw.http.delete(f"/keys/{env_hash}", headers=auth(rotated)).status_code == 200
    # rotating again revokes the previous rotated key
    again = _rotate(backend)
    assert _works(gw, again, 0)
    assert not _works(gw, rotated)
    assert backend.sql("SELECT hash FROM api_keys WHERE kind = 'root'") == [
        {"hash": _hash(again)}]
    time.sleep(6)  # housekeeping does not bring the deleted environment key back
    assert not _works(gw, gw.admin_key, 0)
    r = gw.http.patch(f"/keys/{_hash(again)}", headers=auth(again), json={"disabled": True})
    assert r.status_code == 409


def test_a_changed_admin_key_revokes_the_old_one_on_restart(
    start: Start, upstream: MockUpstream, backend: Backend
) -> None:
    first = start(money_config(upstream.url))
    old = first.admin_key
    assert first.admin("GET", "/keys").status_code == 200
    first.stop()
    second = start(money_config(upstream.url))  # a new SWITCHBOARD_ADMIN_KEY
    assert second.admin_key != old
    assert second.http.get("/keys", headers=auth(old)).status_code == 401
    assert second.admin("GET", "/keys").status_code == 200
    listed = {k["hash"] for k in second.admin("GET", "/keys").json()["data"]}
    assert _hash(second.admin_key) in listed


def test_two_instances_with_different_admin_keys_keep_both(
    start: Start, upstream: MockUpstream
) -> None:
    a = start(money_config(upstream.url))
    b = start(money_config(upstream.url))
    time.sleep(6)  # a housekeeping round on each
    assert a.admin("GET", "/keys").status_code == 200
    assert b.admin("GET", "/keys").status_code == 200
    assert a.http.get("/keys", headers=auth(b.admin_key)).status_code == 200


def test_rotate_with_an_unusable_database_is_a_clean_error() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    env["SWITCHBOARD_DATABASE_URL"] = "mysql://nowhere/db"
    out = subprocess.run([sys.executable, "-m", "switchboard.cli.main", "admin", "rotate"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 2, out
    assert "Traceback" not in out.stderr and "database" in out.stderr


def test_an_env_root_key_from_before_leases_gets_one_and_expires(backend: Backend) -> None:
    async def main() -> None:
        db, repo = await _setup(backend.url)
        old = "sk-sb-old-env-admin"
        await repo.create_key("default", "root (SWITCHBOARD_ADMIN_KEY)", "root", key=old)
        await root_keys.adopt_env_key(repo, "sk-sb-new-env-admin")
        rows = {r["hash"]: r["lease_until"] for r in await db.fetchall(
            "SELECT hash, lease_until FROM api_keys WHERE kind = 'root'")}
        assert rows[_hash(old)] is not None and rows[_hash("sk-sb-new-env-admin")] is not None
        await db.execute("UPDATE api_keys SET lease_until = 1 WHERE hash = $1", _hash(old))
        record = await repo.key_record(_hash(old))
        assert record is not None and root_keys.lease_ended(record.lease_until)
        await db.close()

    asyncio.run(main())
