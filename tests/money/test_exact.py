"""Money is exact: every place that reports a cost agrees to the last digit with
Decimal(price) × tokens × (1 + markup), on both backends."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

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
)
from tests.support import MockUpstream, Reply, openai_completion

PROMPT, CACHED, WRITTEN = 1234, 1000, 100
COMPLETION, REASONING = 567, 123
IMAGE = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}


def hash_of(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def usage_json() -> dict[str, Any]:
    return {
        "prompt_tokens": PROMPT, "completion_tokens": COMPLETION,
        "total_tokens": PROMPT + COMPLETION,
        "prompt_tokens_details": {"cached_tokens": CACHED, "cache_write_tokens": WRITTEN},
        "completion_tokens_details": {"reasoning_tokens": REASONING},
    }


def expected() -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """(provider cost, cost charged, provider prompt part, provider completion part)."""
    p = PRICED
    prompt_part = ((PROMPT - CACHED - WRITTEN) * p["prompt"] + CACHED * p["input_cache_read"]
                   + WRITTEN * p["input_cache_write"]) / MILLION
    completion_part = ((COMPLETION - REASONING) * p["completion"]
                       + REASONING * p["internal_reasoning"]) / MILLION
    provider = prompt_part + completion_part + p["request"] + 1 * p["image"]
    cost = provider * (1 + MARKUP)
    # the test's own arithmetic must be exact in pico-dollars, or the comparison means nothing
    for d in (provider, cost):
        assert d == d.quantize(PICO)
    assert cost == Decimal("0.005650348")  # written out once, by hand
    return provider, cost, prompt_part, completion_part


def stream_events(text_pieces: list[str]) -> list[Any]:
    base = {"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    ev: list[Any] = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant",
                                                                  "content": ""}}]}]
    ev += [{**base, "choices": [{"index": 0, "delta": {"content": t}, "finish_reason": None}]}
           for t in text_pieces]
    ev.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    ev.append({**base, "choices": [], "usage": usage_json()})
    ev.append("[DONE]")
    return ev


def test_cost_agrees_everywhere_to_the_last_digit(
    start: Start, upstream: MockUpstream, backend: Backend
) -> None:
    provider, cost, prompt_part, completion_part = expected()
    gw = start(money_config(upstream.url))
    gw.charge(5)
    key = gw.new_key("exact", limit=3)
    upstream.script("/acme/", Reply(json=openai_completion(
        "The answer", prompt=PROMPT, completion=COMPLETION, usage={
            "prompt_tokens_details": {"cached_tokens": CACHED, "cache_write_tokens": WRITTEN},
            "completion_tokens_details": {"reasoning_tokens": REASONING}})))
    messages = [{"role": "user", "content": [{"type": "text", "text": "look"}, IMAGE]}]
    r = chat(gw, key, {"model": "test/priced", "messages": messages},
             headers={"HTTP-Referer": "https://app.example/x", "X-Title": "Exact App"})
    assert r.status_code == 200, r.text
    body = exact(r)
    gen_id = body["id"]
    # the answer
    assert dec(body["usage"]["cost"]) == cost
    assert body["usage"]["prompt_tokens"] == PROMPT
    assert body["usage"]["completion_tokens"] == COMPLETION
    assert body["usage"]["prompt_tokens_details"]["cached_tokens"] == CACHED
    assert body["usage"]["completion_tokens_details"]["reasoning_tokens"] == REASONING
    details = body["usage"]["cost_details"]
    assert dec(details["upstream_inference_cost"]) == provider
    # the parts are on the same (upstream) basis as the whole they break down
    assert dec(details["upstream_inference_prompt_cost"]) == prompt_part
    assert dec(details["upstream_inference_completions_cost"]) == completion_part
    # the headers: exact decimal strings
    assert Decimal(r.headers["OpenRouter-Cost"]) == cost
    assert Decimal(r.headers["OpenRouter-Provider-Cost"]) == provider
    assert r.headers["X-Generation-Id"] == gen_id
    # /generation
    g = gw.http.get("/generation", params={"id": gen_id}, headers=auth(key))
    assert g.status_code == 200, g.text
    gd = exact(g)["data"]
    assert dec(gd["total_cost"]) == cost and dec(gd["usage"]) == cost
    assert dec(gd["upstream_inference_cost"]) == provider
    assert gd["id"] == gen_id and gd["model"] == "test/priced"
    assert gd["provider_name"] == "Acme AI"
    assert (gd["tokens_prompt"], gd["tokens_completion"]) == (PROMPT, COMPLETION)
    assert gd["native_tokens_prompt"] == PROMPT
    assert gd["native_tokens_completion"] == COMPLETION
    assert gd["native_tokens_reasoning"] == REASONING
    assert gd["native_tokens_cached"] == CACHED
    assert gd["num_media_prompt"] == 1
    assert gd["streamed"] is False and gd["cancelled"] is False
    assert gd["finish_reason"] == "stop" and gd["native_finish_reason"] == "stop"
    assert gd["http_referer"] == "https://app.example/x"
    assert gd["origin"] == "https://app.example/x"
    assert gd["app_title"] == "Exact App"
    assert isinstance(gd["latency"], int) and isinstance(gd["generation_time"], int)
    assert gd["created_at"]
    assert [a["status"] for a in gd["provider_responses"]] == [200]
    for field in ("id", "total_cost", "usage", "model", "provider_name", "streamed",
                  "cancelled", "latency", "generation_time", "finish_reason",
                  "native_finish_reason", "tokens_prompt", "tokens_completion",
                  "native_tokens_prompt", "native_tokens_completion", "origin",
                  "http_referer", "app_title", "created_at", "provider_responses"):
        assert field in gd, field
    # /activity
    a = gw.http.get("/activity", headers=auth(key))
    assert a.status_code == 200, a.text
    rows = exact(a)["data"]
    assert len(rows) == 1
    row = rows[0]
    assert dec(row["usage"]) == cost
    assert row["requests"] == 1
    assert row["model"] == "test/priced" and row["model_permaslug"] == "test/priced"
    assert row["provider_name"] == "Acme AI"
    assert row["endpoint_id"]
    assert (row["prompt_tokens"], row["completion_tokens"]) == (PROMPT, COMPLETION)
    assert (row["reasoning_tokens"], row["cached_tokens"]) == (REASONING, CACHED)
    assert dec(row["byok_usage_inference"]) == 0
    assert row["date"] == gd["created_at"][:10]
    day = gw.http.get("/activity", params={"date": row["date"]}, headers=auth(key))
    assert exact(day)["data"] == rows
    # /credits and /auth/key
    c = exact(gw.http.get("/credits", headers=auth(key)))["data"]
    assert dec(c["total_credits"]) == 5 and dec(c["total_usage"]) == cost
    k = exact(gw.http.get("/auth/key", headers=auth(key)))["data"]
    assert dec(k["usage"]) == cost
    assert dec(k["usage_daily"]) == dec(k["usage_weekly"]) == dec(k["usage_monthly"]) == cost
    assert dec(k["limit"]) == 3 and dec(k["limit_remaining"]) == 3 - cost
    kv = exact(gw.admin("GET", f"/keys/{hash_of(key)}"))["data"]
    assert dec(kv["usage"]) == dec(kv["usage_daily"]) == cost
    assert dec(kv["limit_remaining"]) == 3 - cost
    acct = next(a for a in exact(gw.admin("GET", "/accounts"))["data"] if a["id"] == "default")
    assert dec(acct["total_usage"]) == cost and dec(acct["total_credits"]) == 5
    # the database: integer pico-dollars, nothing held any more
    acc = backend.one("SELECT credits, usage, reserved FROM accounts WHERE id = 'default'")
    assert acc == {"credits": 5 * 10**12, "usage": int(cost / PICO), "reserved": 0}
    assert backend.sql("SELECT * FROM holds") == []
    assert backend.one("SELECT cost, provider_cost FROM generations WHERE id = $1", gen_id) == {
        "cost": int(cost / PICO), "provider_cost": int(provider / PICO)}


def test_stream_cost_is_exact_and_adds_up(
    start: Start, upstream: MockUpstream, backend: Backend
) -> None:
    provider, cost, _, _ = expected()
    gw = start(money_config(upstream.url))
    gw.charge(5)
    key = gw.new_key("stream")
    upstream.script("/acme/", Reply(sse=stream_events(["The ", "answer"])),
                    Reply(json=openai_completion("again", prompt=PROMPT, completion=COMPLETION,
                                                 usage=usage_json())))
    messages = [{"role": "user", "content": [{"type": "text", "text": "look"}, IMAGE]}]
    with gw.http.stream("POST", "/chat/completions", headers={
            **auth(key), "X-OpenRouter-Title": "Streamer"},
            json={"model": "test/priced", "messages": messages, "stream": True}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        text = r.read().decode()
    events = [e[len("data: "):] for e in text.split("\n\n") if e.startswith("data: ")]
    assert events[-1] == "[DONE]"
    finals = [json.loads(e, parse_float=Decimal) for e in events[:-1]]
    with_usage = [e for e in finals if e.get("usage")]
    assert len(with_usage) == 1 and with_usage[0]["choices"] == []
    assert dec(with_usage[0]["usage"]["cost"]) == cost
    assert dec(with_usage[0]["usage"]["cost_details"]["upstream_inference_cost"]) == provider
    gen_id = with_usage[0]["id"]
    # a second, non-streamed request: totals are exact sums
    r2 = chat(gw, key, {"model": "test/priced", "messages": messages})
    assert Decimal(r2.headers["OpenRouter-Cost"]) == cost
    gd = exact(gw.http.get("/generation", params={"id": gen_id}, headers=auth(key)))["data"]
    assert dec(gd["total_cost"]) == cost
    assert gd["streamed"] is True and gd["cancelled"] is False
    assert gd["app_title"] == "Streamer" and gd["finish_reason"] == "stop"
    c = exact(gw.http.get("/credits", headers=auth(key)))["data"]
    assert dec(c["total_usage"]) == 2 * cost
    k = exact(gw.http.get("/auth/key", headers=auth(key)))["data"]
    assert dec(k["usage"]) == 2 * cost
    rows = exact(gw.http.get("/activity", headers=auth(key)))["data"]
    assert [(r["requests"], dec(r["usage"])) for r in rows] == [(2, 2 * cost)]
    acc = backend.one("SELECT usage, reserved FROM accounts WHERE id = 'default'")
    assert acc == {"usage": int(2 * cost / PICO), "reserved": 0}


def test_models_show_prices_with_markup(start: Start, upstream: MockUpstream) -> None:
    gw = start(money_config(upstream.url))
    m = next(x for x in gw.http.get("/models").json()["data"] if x["id"] == "test/priced")
    per_token = {k: Decimal(v) for k, v in m["pricing"].items() if isinstance(v, str)}
    assert per_token["prompt"] == PRICED["prompt"] * (1 + MARKUP) / MILLION
    assert per_token["completion"] == PRICED["completion"] * (1 + MARKUP) / MILLION
    assert per_token["request"] == PRICED["request"] * (1 + MARKUP)
    assert per_token["image"] == PRICED["image"] * (1 + MARKUP)
    assert per_token["input_cache_read"] == PRICED["input_cache_read"] * (1 + MARKUP) / MILLION
