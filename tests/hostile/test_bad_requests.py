"""Issue 15, findings 3 and 12: the caller's own mistakes are 400s naming the field, never a
5xx, and never count against a provider's health (so one tenant cannot open a circuit)."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from tests.support import GatewayServer

USER = [{"role": "user", "content": "hi"}]


def _deep(levels: int) -> str:
    """A placeholder that `_encode` replaces with an object nested `levels` deep (JSON
    encoders refuse to write such nesting from Python objects)."""
    return f"@@deep{levels}@@"


def _encode(body: dict[str, Any]) -> bytes:
    text = orjson.dumps(body).decode()
    for levels in (300, 1000):
        text = text.replace(f'"{_deep(levels)}"', '{"x":' * levels + "{}" + "}" * levels)
    return text.encode()


def _post(gw: GatewayServer, path: str, key: str, body: dict[str, Any]) -> httpx.Response:
    return gw.http.post(path, content=_encode(body), headers={
        "Authorization": f"Bearer {key}", "content-type": "application/json"})


BAD: list[tuple[str, dict[str, Any], str]] = [
    ("tool_calls is a number", {"messages": [{"role": "assistant", "tool_calls": 5}, *USER]},
     "messages[0].tool_calls"),
    ("tool_calls function is a string",
     {"messages": [{"role": "assistant", "tool_calls": [{"function": "x"}]}, *USER]},
     "messages[0].tool_calls[0].function"),
    ("role is a list", {"messages": [{"role": [], "content": "x"}]}, "messages[0].role"),
    ("plugin id is an object", {"messages": USER, "plugins": [{"id": {}}]}, "plugins[0].id"),
    ("stream_options is not an object", {"messages": USER, "stream": True,
                                         "stream_options": True}, "stream_options"),
    ("tools nested 1,000 deep", {"messages": USER, "tools": [
        {"type": "function", "function": {"name": "f", "parameters": _deep(1000)}}]}, "tools"),
    ("metadata nested 300 deep", {"messages": USER, "metadata": _deep(300)}, "metadata"),
    ("simulator tool schema not an object", {"messages": USER, "tools": [
        {"type": "function", "function": {"name": "f", "parameters": "nope"}}]},
     "tools[0].function.parameters"),
    ("simulate.latency_ms is a string", {"messages": USER, "simulate": {"latency_ms": "x"}},
     "simulate.latency_ms"),
    ("simulate.latency_ms is 1e308", {"messages": USER, "simulate": {"latency_ms": 1e308}},
     "simulate.latency_ms"),
    ("max_tokens beyond 64 bits' worth", {"messages": USER, "max_tokens": 9223372036854775807},
     "max_tokens"),
    ("n out of range", {"messages": USER, "n": 100000}, "n"),
    ("temperature out of range", {"messages": USER, "temperature": 7}, "temperature"),
    ("text part without text", {"messages": [{"role": "user", "content": [{"type": "text"}]}]},
     "messages[0].content[0].text"),
]


@pytest.mark.parametrize(("case", "body", "field"), BAD, ids=[c[0] for c in BAD])
def test_bad_request_is_a_400_naming_the_field(
    gw: GatewayServer, key: str, case: str, body: dict[str, Any], field: str
) -> None:
    for path in ("/chat/completions",):
        r = _post(gw, path, key, {"model": "switchboard/echo", **body})
        assert r.status_code == 400, (case, r.status_code, r.text)
        assert r.headers["content-type"] == "application/json"
        err = r.json()["error"]
        assert err["code"] == 400
        assert err["metadata"]["field"] == field, err
        assert field in err["message"]


def test_legacy_completions_are_checked_at_the_same_door(gw: GatewayServer, key: str) -> None:
    r = gw.http.post("/completions", json={"model": "switchboard/echo", "prompt": "hi",
                                           "simulate": {"latency_ms": "slow"}},
                     headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["metadata"]["field"] == "simulate.latency_ms"


def test_bad_requests_never_open_the_circuit_for_other_tenants(gw: GatewayServer) -> None:
    attacker, victim = gw.new_key("attacker"), gw.new_key("victim")
    for body in ({"stream_options": True, "stream": True}, {"metadata": _deep(300)},
                 {"tools": [{"type": "function", "function": {"name": "f", "parameters": 1}}]}):
        for _ in range(4):
            r = _post(gw, "/chat/completions", attacker,
                      {"model": "switchboard/echo", "messages": USER, **body})
            assert r.status_code == 400, r.text
    r = gw.http.post("/chat/completions", json={"model": "switchboard/echo", "messages": USER},
                     headers={"Authorization": f"Bearer {victim}"})
    assert r.status_code == 200, r.text


def test_unknown_fields_still_pass_and_route_sort_is_accepted(gw: GatewayServer, key: str) -> None:
    r = gw.http.post("/chat/completions", json={
        "model": "switchboard/echo", "messages": USER, "route": "sort",
        "models": ["switchboard/lorem"], "some_future_field": {"a": [1, 2]},
        "metadata": {"team": "x"}, "stream_options": {"include_usage": True}},
        headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
