"""Every failure leaves the ledger consistent: nothing stays reserved, and a request is
charged only when something was served (then for exactly what was generated)."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.money.conftest import Backend, Start
from tests.money.util import (
    MARKUP,
    MILLION,
    PICO,
    PRICED,
    auth,
    chat,
    dec,
    exact,
    money_config,
    user,
)
from tests.support import GatewayServer, MockUpstream, Reply, openai_completion, openai_stream

FLAKY_PROMPT, FLAKY_COMPLETION = Decimal(2), Decimal(8)  # test/flaky's prices


def settled(backend: Backend, gw: GatewayServer, key: str) -> dict[str, Any]:
    """Flush the ledger, then read the money straight from the database."""
    assert gw.http.get("/credits", headers=auth(key)).status_code == 200
    acc = backend.one("SELECT credits, usage, reserved FROM accounts WHERE id = 'default'")
    k = backend.one("SELECT usage, reserved FROM api_keys WHERE name = 'faults'")
    gens = backend.sql("SELECT id, cost, status, cancelled, streamed, finish_reason, "
                       "tokens_prompt, tokens_completion FROM generations")
    assert acc["reserved"] == 0, "a hold was left behind"
    assert k["reserved"] == 0, "a key hold was left behind"
    assert backend.sql("SELECT id FROM holds") == []
    assert acc["usage"] == k["usage"] == sum(g["cost"] for g in gens)
    return {"usage": acc["usage"], "gens": gens}


def flaky_cost(prompt: int, completion: int) -> int:
    usd = (prompt * FLAKY_PROMPT + completion * FLAKY_COMPLETION) / MILLION * (1 + MARKUP)
    return int((usd / PICO).to_integral_value())


def priced_cost(prompt: int, completion: int) -> int:
    """test/priced (served by acme, whose timeouts are long) with plain tokens."""
    usd = ((prompt * PRICED["prompt"] + completion * PRICED["completion"]) / MILLION
           + PRICED["request"]) * (1 + MARKUP)
    return int((usd / PICO).to_integral_value())


@pytest.fixture()
def gw(start: Start, upstream: MockUpstream) -> GatewayServer:
    g = start(money_config(upstream.url))
    g.charge(10)
    return g


@pytest.fixture()
def key(gw: GatewayServer) -> str:
    return gw.new_key("faults", limit=5)


ERR500 = Reply(status=500, json={"error": {"message": "boom", "type": "server_error"}})
REPLY_FOR = {
    "500": ([ERR500, ERR500], 502),
    "timeout": ([Reply(delay_s=1.2, json=openai_completion("late")),
                 Reply(delay_s=1.2, json=openai_completion("late"))], 408),
    "reset": ([Reply(reset=True), Reply(reset=True)], 502),
}


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("fault", sorted(REPLY_FOR))
def test_total_failure_releases_the_hold_and_costs_nothing(
    gw: GatewayServer, key: str, upstream: MockUpstream, backend: Backend, fault: str,
    stream: bool,
) -> None:
    replies, status = REPLY_FOR[fault]
    if stream:
        replies = [Reply(**{**r.__dict__, "json": None,
                            "sse": None if r.status != 200 or r.reset else openai_stream(["x"])})
                   for r in replies]
    upstream.script("/flaky/", *replies)
    r = chat(gw, key, {"model": "test/flaky", "messages": user("hi"), "stream": stream})
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["error"]["code"] == status
    state = settled(backend, gw, key)
    assert state["usage"] == 0
    assert all(g["cost"] == 0 and g["status"] != 200 for g in state["gens"])
    c = exact(gw.http.get("/credits", headers=auth(key)))["data"]
    assert dec(c["total_usage"]) == 0 and dec(c["total_credits"]) == 10
    assert exact(gw.http.get("/activity", headers=auth(key)))["data"] == []


def test_fallback_charges_once_to_the_provider_that_served(
    gw: GatewayServer, key: str, upstream: MockUpstream, backend: Backend
) -> None:
    upstream.script("/flaky/", ERR500)
    upstream.script("/acme/", Reply(json=openai_completion("served", prompt=100, completion=10)))
    r = chat(gw, key, {"model": "test/fallback", "messages": user("hi"),
                       "provider": {"order": ["flaky", "acme"]}})
    assert r.status_code == 200, r.text
    assert r.headers["OpenRouter-Provider"] == "acme"
    cost = (100 * Decimal(1) + 10 * Decimal(3)) / MILLION * (1 + MARKUP)  # acme's prices
    assert Decimal(r.headers["OpenRouter-Cost"]) == cost
    state = settled(backend, gw, key)
    assert state["usage"] == int(cost / PICO) and len(state["gens"]) == 1
    gd = exact(gw.http.get("/generation", params={"id": r.json()["id"]}, headers=auth(key)))
    responses = gd["data"]["provider_responses"]
    assert [(a["provider"], a["status"]) for a in responses] == [("flaky", 500), ("acme", 200)]


def sse_events(text: str) -> list[str]:
    return [e[len("data: "):] for e in text.split("\n\n") if e.startswith("data: ")]


def test_mid_stream_cut_charges_what_was_generated(
    gw: GatewayServer, key: str, upstream: MockUpstream, backend: Backend
) -> None:
    # role chunk, "Hello", " brave new" ... then the upstream drops the connection
    events = openai_stream(["Hello", " brave new", " world", " and more"], prompt=50,
                           completion=40)
    upstream.script("/flaky/", Reply(sse=events, cut_after=3))
    with gw.http.stream("POST", "/chat/completions", headers=auth(key), json={
            "model": "test/flaky", "messages": user("tell me"), "stream": True}) as r:
        assert r.status_code == 200
        text = r.read().decode()
    ev = sse_events(text)
    assert "[DONE]" not in ev
    content = "".join((json.loads(e)["choices"] or [{}])[0].get("delta", {}).get("content") or ""
                      for e in ev)
    assert content == "Hello brave new"
    err = json.loads(ev[-1])
    assert isinstance(err["error"]["code"], int)
    assert err["choices"][0]["finish_reason"] == "error"
    state = settled(backend, gw, key)
    (g,) = state["gens"]
    assert g["status"] == 200 and g["streamed"] and g["finish_reason"] == "error"
    # no usage came: tokens were counted from the content, and priced exactly
    assert 0 < g["tokens_completion"] < 40
    assert g["tokens_prompt"] > 0
    assert g["cost"] == flaky_cost(g["tokens_prompt"], g["tokens_completion"]) > 0
    assert state["usage"] == g["cost"]


def test_stream_cut_before_any_content_costs_nothing(
    gw: GatewayServer, key: str, upstream: MockUpstream, backend: Backend
) -> None:
    events = openai_stream(["never"])
    upstream.script("/flaky/", Reply(sse=events, cut_after=1), Reply(sse=events, cut_after=1))
    r = chat(gw, key, {"model": "test/flaky", "messages": user("x"), "stream": True})
    assert r.status_code == 502, r.text
    state = settled(backend, gw, key)
    assert state["usage"] == 0


def test_client_disconnect_cancels_upstream_and_charges_generated(
    gw: GatewayServer, key: str, upstream: MockUpstream, backend: Backend
) -> None:
    pieces = [f" word{i}" for i in range(60)]
    upstream.script("/acme/", Reply(sse=openai_stream(pieces, prompt=30, completion=120),
                                     chunk_delay_s=0.05))
    got = ""
    gen_id = None
    with httpx.Client(base_url=gw.base_url, timeout=10) as client, client.stream(
            "POST", "/chat/completions", headers=auth(key),
            json={"model": "test/priced", "messages": user("go on"), "stream": True}) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if line.startswith("data: {"):
                chunk = json.loads(line[6:])
                gen_id = chunk["id"]
                delta = (chunk["choices"] or [{}])[0].get("delta", {})
                got += delta.get("content") or ""
                if got:
                    break  # walk away after the first content
    assert got and gen_id
    hit = upstream.hits("/acme/")[-1]
    deadline = time.time() + 5
    while not hit["disconnected"] and time.time() < deadline:
        time.sleep(0.05)
    assert hit["disconnected"], "the upstream request was not cancelled"
    deadline = time.time() + 5
    while time.time() < deadline:
        gd = gw.http.get("/generation", params={"id": gen_id}, headers=auth(key))
        if gd.status_code == 200:
            break
        time.sleep(0.05)
    assert gd.status_code == 200, gd.text
    data = exact(gd)["data"]
    assert data["cancelled"] is True and data["streamed"] is True
    assert 0 < data["tokens_completion"] < 120  # counted from what was generated
    state = settled(backend, gw, key)
    (g,) = state["gens"]
    assert g["cost"] == priced_cost(g["tokens_prompt"], g["tokens_completion"]) > 0
    assert dec(data["total_cost"]) == g["cost"] * PICO
    assert state["usage"] == g["cost"]


def test_client_leaving_before_any_content_costs_nothing(
    gw: GatewayServer, key: str, upstream: MockUpstream, backend: Backend
) -> None:
    """The client gives up while the upstream is still thinking (keep-alive comments only):
    the hold is released, nothing is charged, the upstream call is dropped."""
    thinking = [b": still thinking\n\n"] * 60  # SSE comments: no content yet
    upstream.script("/acme/", Reply(sse=thinking + openai_stream(["too", " late"]),
                                    chunk_delay_s=0.1))
    with httpx.Client(base_url=gw.base_url, timeout=10) as client, client.stream(
            "POST", "/chat/completions", headers=auth(key),
            json={"model": "test/priced", "messages": user("think hard"), "stream": True}) as r:
        assert r.status_code == 200  # the stream is open (keep-alive phase), no content yet
        # ...and the client walks away
    hit = upstream.hits("/acme/")[-1]
    deadline = time.time() + 5
    while not hit["disconnected"] and time.time() < deadline:
        time.sleep(0.05)
    assert hit["disconnected"], "the upstream request was not cancelled"
    state = settled(backend, gw, key)
    assert state["usage"] == 0
    assert all(g["cost"] == 0 for g in state["gens"])
    assert exact(gw.http.get("/activity", headers=auth(key)))["data"] == []


def test_many_abandoned_streams_at_once_leave_the_ledger_exact(
    gw: GatewayServer, key: str, upstream: MockUpstream, backend: Backend
) -> None:
    import asyncio

    pieces = [f" w{i}" for i in range(40)]
    upstream.default = lambda path, body: Reply(
        sse=openai_stream(pieces, prompt=30, completion=80), chunk_delay_s=0.05)

    async def one(client: httpx.AsyncClient, i: int) -> str | None:
        async with client.stream("POST", "/chat/completions", headers=auth(key), json={
                "model": "test/priced", "messages": user(f"q{i}"), "stream": True}) as r:
            if r.status_code != 200:
                return None
            async for line in r.aiter_lines():
                if line.startswith("data: {"):
                    chunk = json.loads(line[6:])
                    if (chunk["choices"] or [{}])[0].get("delta", {}).get("content"):
                        return str(chunk["id"])
        return None

    async def main() -> list[str | None]:
        async with httpx.AsyncClient(base_url=gw.base_url, timeout=20) as client:
            return list(await asyncio.gather(*(one(client, i) for i in range(40))))

    ids = asyncio.run(main())
    assert all(ids)
    deadline = time.time() + 10
    while time.time() < deadline:
        gw.http.get("/credits", headers=auth(key))
        if len(backend.sql("SELECT id FROM generations")) == 40:
            break
        time.sleep(0.1)
    state = settled(backend, gw, key)
    assert sorted(g["id"] for g in state["gens"]) == sorted(ids)  # type: ignore[type-var]
    for g in state["gens"]:
        assert g["cancelled"] and g["streamed"]
        assert 0 < g["tokens_completion"] < 80
        assert g["cost"] == priced_cost(g["tokens_prompt"], g["tokens_completion"])


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_first_keepalive_comment_within_two_seconds(
    gw: GatewayServer, key: str, upstream: MockUpstream, backend: Backend
) -> None:
    thinking = [b": still thinking\n\n"] * 40
    upstream.script("/acme/", Reply(sse=thinking + openai_stream(["x"]), chunk_delay_s=0.1))
    import asyncio

    async def first_comment() -> None:
        async with httpx.AsyncClient(base_url=gw.base_url, timeout=10) as client, \
                client.stream("POST", "/chat/completions", headers=auth(key), json={
                    "model": "test/priced", "messages": user("hm"), "stream": True}) as r:
            async for line in r.aiter_lines():
                if line.startswith(":"):
                    return

    async def main() -> bool:
        try:
            await asyncio.wait_for(first_comment(), 2.6)
        except TimeoutError:
            return False
        return True

    assert asyncio.run(main()), "no keep-alive comment within 2.6 s"
