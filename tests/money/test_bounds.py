"""Bounded numbers where money or paging is involved: a 400 naming the field, never a 500."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import httpx
import pytest

from tests.money.conftest import Backend, Start
from tests.money.util import auth, dec, exact, money_config
from tests.support import GatewayServer, MockUpstream


@pytest.fixture()
def gw(start: Start, upstream: MockUpstream) -> GatewayServer:
    return start(money_config(upstream.url))


def _is_400_naming(r: httpx.Response, field: str) -> None:
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/json")
    err = r.json()["error"]
    assert err["code"] == 400 and err["metadata"]["field"] == field, err
    assert field in err["message"]


@pytest.mark.parametrize("amount", [10_000_000, "1e999999", "1000000.01", "NaN", "Infinity",
                                    "-Infinity", -1, 0, "1e-999999999999", True, None, "x"])
def test_charge_amount_out_of_range_is_a_400_naming_amount(
    gw: GatewayServer, amount: object
) -> None:
    # (1e-999999999999 is positive but rounds to nothing)
    _is_400_naming(gw.admin("POST", "/credits/charge", json={"amount": amount}), "amount")


def test_charge_up_to_the_documented_maxima(gw: GatewayServer, backend: Backend) -> None:
    for _ in range(5):
        r = gw.admin("POST", "/credits/charge", json={"amount": 1_000_000})
        assert r.status_code == 200, r.text
    assert dec(exact(r)["data"]["total_credits"]) == 5_000_000
    # the account's credits in total are capped: the next charge is refused, not overflowed
    _is_400_naming(gw.admin("POST", "/credits/charge", json={"amount": 1}), "amount")
    acc = backend.one("SELECT credits FROM accounts WHERE id = 'default'")
    assert acc["credits"] == 5_000_000 * 10**12


@pytest.mark.parametrize("limit", [10_000_000, "1e999999", "NaN", "Infinity", -1, "x"])
def test_key_limit_out_of_range_is_a_400_naming_limit(gw: GatewayServer, limit: object) -> None:
    _is_400_naming(gw.admin("POST", "/keys", json={"name": "k", "limit": limit}), "limit")
    h = gw.admin("POST", "/keys", json={"name": "k2", "limit": 1_000_000}).json()["data"]["hash"]
    _is_400_naming(gw.admin("PATCH", f"/keys/{h}", json={"limit": limit}), "limit")


@pytest.mark.parametrize("param,value", [
    ("offset", "²"), ("offset", "99999999999999999999"), ("offset", "-1"), ("offset", "abc"),
    ("offset", "1.5"), ("offset", "1000001"), ("limit", "0"), ("limit", "101"),
    ("limit", "१"),  # a Devanagari digit: isdigit() but not ASCII
])
def test_keys_paging_params_out_of_range_are_400_naming_them(
    gw: GatewayServer, param: str, value: str
) -> None:
    _is_400_naming(gw.admin("GET", "/keys", params={param: value}), param)


def test_keys_paging_within_range(gw: GatewayServer) -> None:
    for i in range(3):
        gw.new_key(f"p{i}")
    names = [k["name"] for k in gw.admin("GET", "/keys").json()["data"]]
    page = gw.admin("GET", "/keys", params={"offset": "1", "limit": "1"})
    assert page.status_code == 200
    assert [k["name"] for k in page.json()["data"]] == names[1:2]


def test_concurrent_patch_and_delete_of_one_key_never_500(gw: GatewayServer) -> None:
    async def race(h: str) -> list[int]:
        headers = auth(gw.admin_key)
        async with httpx.AsyncClient(base_url=gw.base_url, headers=headers, timeout=30) as c:
            rs = await asyncio.gather(
                c.patch(f"/keys/{h}", json={"disabled": True}),
                c.delete(f"/keys/{h}"),
                c.patch(f"/keys/{h}", json={"name": "renamed"}),
                c.delete(f"/keys/{h}"),
            )
        return [r.status_code for r in rs]

    seen: set[int] = set()
    for i in range(20):
        h = gw.admin("POST", "/keys", json={"name": f"race{i}"}).json()["data"]["hash"]
        codes = asyncio.run(race(h))
        seen.update(codes)
        assert set(codes) <= {200, 404}, codes
        assert codes[1] == 200 or codes[3] == 200, codes  # one DELETE won
        assert not (codes[1] == 200 and codes[3] == 200), codes  # and only one
    assert 404 in seen


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_database_files_and_data_dir_are_private(gw: GatewayServer, backend: Backend) -> None:
    assert gw.admin("POST", "/credits/charge", json={"amount": 1}).status_code == 200
    assert backend.sqlite_path is not None
    files = backend.files()
    assert {p.name for p in files} >= {"sb.db", "sb.db-wal", "sb.db-shm"}
    for p in files:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, (p, oct(p.stat().st_mode))
    assert stat.S_IMODE(Path(backend.sqlite_path).parent.stat().st_mode) == 0o700
