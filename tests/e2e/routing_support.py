"""Shared pieces of the routing end-to-end tests (tests/e2e/test_routing_*.py).

One gateway with four OpenAI-wire providers on the mock (`a`, `b`, `c`, `d`, each under its
own path, so `upstream.hits("/a/v1/")` are the attempts on `a`), short timeouts, a circuit
that opens after 2 failures for 1 s, and a Retry-After cap of 2 s. Models:

- `test/m1`  on a, b, c, d — prices a 1/2, b 2/4, c 3/6, d 0.5/1 (d trains on data);
  throughput seeds b 200 > c 100 > a 50, d unmeasured
- `test/m2`  on c and b — the `models` fallback (upstream names `m2-c`, `m2-b`)
- `test/m1:free` on a, priced at zero
- `test/trainer` on d only (trains on data)
- `test/dead` on `dead` (a closed port) then a

Each test module gets its own gateway; `fresh` resets the endpoint health and keep-alive
timing between tests so that one test's failures do not reorder the next one's plan.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import yaml

from switchboard.routing.health import HealthTracker
from tests.support import GatewayServer, MockUpstream, Reply, free_port, openai_stream

PROVIDERS = ("a", "b", "c", "d")
DISPLAY = {"a": "Ay", "b": "Bee", "c": "Cee", "d": "Dee", "dead": "Dead"}
PRICES = {"a": (1, 2), "b": (2, 4), "c": (3, 6), "d": (0.5, 1), "dead": (0.1, 0.1)}
THROUGHPUT = {"a": 50, "b": 200, "c": 100}
PARAMETERS = {
    "a": ["temperature", "max_tokens"],
    "b": ["temperature", "max_tokens", "seed"],
    "c": ["temperature", "max_tokens", "seed", "tools", "tool_choice"],
    "d": ["temperature", "max_tokens"],
}
FAST = {"connect": 1, "first_token": 1, "idle": 1, "total": 1}
BACKOFF_MIN_S = 0.2  # retry_policy.BACKOFF_S: the jittered wait before retrying the last endpoint
BACKOFF_MAX_S = 0.5
USER = [{"role": "user", "content": "hello"}]


def _provider(name: str, base_url: str, cooldown_s: float, trains: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "display_name": DISPLAY[name],
        "api": "openai",
        "base_url": base_url,
        "api_key": f"sk-{name}",
        "trains_on_data": trains,
        "timeouts": FAST,
        "retries": {"max_retry_after_s": 2},
        "circuit": {"failures": 2, "cooldown_s": cooldown_s},
    }


def _endpoint(provider: str, model: str, free: bool = False) -> dict[str, Any]:
    prompt, completion = (0, 0) if free else PRICES[provider]
    ep: dict[str, Any] = {
        "provider": provider,
        "model": model,
        "pricing": {"prompt": prompt, "completion": completion},
        "context_length": 128000,
        "max_completion_tokens": 1000,
        "supported_parameters": PARAMETERS.get(provider, ["temperature", "max_tokens"]),
    }
    if provider in THROUGHPUT:
        ep["throughput_tps"] = THROUGHPUT[provider]
    return ep


def routing_config(mock_url: str, cooldown_s: float = 1) -> str:
    providers = [_provider(p, f"{mock_url}/{p}/v1", cooldown_s, trains=p == "d") for p in PROVIDERS]
    providers.append(_provider("dead", f"http://127.0.0.1:{free_port()}/v1", cooldown_s))

    def model(mid: str, endpoints: list[dict[str, Any]]) -> dict[str, Any]:
        return {"id": mid, "name": mid, "context_length": 128000, "endpoints": endpoints}

    models = [
        model("test/m1", [_endpoint(p, f"m1-{p}") for p in PROVIDERS]),
        model("test/m2", [_endpoint("c", "m2-c"), _endpoint("b", "m2-b")]),
        model("test/m1:free", [_endpoint("a", "m1-free", free=True)]),
        model("test/trainer", [_endpoint("d", "trainer-d")]),
        model("test/dead", [_endpoint("dead", "dead-x"), _endpoint("a", "dead-a")]),
    ]
    return yaml.safe_dump({"builtin_catalog": False, "providers": providers, "models": models})


def routing_gateway(mock: MockUpstream, tmp: Any) -> Iterator[GatewayServer]:
    gw = GatewayServer(routing_config(mock.url), tmp)
    gw.charge(100)
    yield gw
    gw.stop()


def reset_gateway(gw: GatewayServer) -> None:
    """Forget endpoint health and restore keep-alive timing (tests lower it)."""
    svc = gw.app.svc
    assert svc is not None
    svc.health = svc.executor.health = svc.chat.health = HealthTracker()
    svc.chat.accountant.health = svc.health
    svc.chat.keepalive_first_s, svc.chat.keepalive_every_s = 2.0, 3.0


# -- replies ---------------------------------------------------------------------------


def fail(status: int, message: str = "upstream trouble", **kw: Any) -> Reply:
    return Reply(status=status, json={"error": {"message": message, "type": "server_error"}}, **kw)


def ok(text: str = "Hello!", model: str = "upstream") -> Reply:
    return Reply(
        json={
            "id": "chatcmpl-x",
            "object": "chat.completion",
            "created": 1700000000,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }
    )


def stream_ok(*pieces: str, **kw: Any) -> Reply:
    return Reply(sse=openai_stream(list(pieces) or ["Hel", "lo"]), **kw)


def route(*names: str) -> dict[str, Any]:
    """Exactly these providers, in this order."""
    return {"order": list(names), "only": list(names)}


def script(upstream: MockUpstream, provider: str, *replies: Reply) -> None:
    upstream.script(f"/{provider}/v1/", *replies)


# -- what the mock saw -----------------------------------------------------------------


def attempts(upstream: MockUpstream) -> list[str]:
    """The providers the gateway called, in arrival order: ["a", "b", "b"]."""
    return [r["path"].split("/")[1] for r in upstream.requests]


def gaps(upstream: MockUpstream) -> list[float]:
    """Seconds between consecutive upstream requests."""
    times = [r["time"] for r in upstream.requests]
    return [t2 - t1 for t1, t2 in itertools.pairwise(times)]


def wait_for(predicate: Any, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


# -- the client side -------------------------------------------------------------------


class RoutingClient:
    """Raw HTTP against the gateway: the tests look at exact statuses, headers and bytes."""

    def __init__(self, gw: GatewayServer, key: str) -> None:
        self.gw = gw
        self.key = key
        self.headers = {"Authorization": f"Bearer {key}"}

    def chat(self, model: str = "test/m1", **body: Any) -> httpx.Response:
        payload = {"model": model, "messages": USER, **body}
        return httpx.post(
            f"{self.gw.base_url}/chat/completions", json=payload, headers=self.headers, timeout=30
        )

    def stream(self, model: str = "test/m1", **body: Any) -> Streamed:
        payload = {"model": model, "messages": USER, "stream": True, **body}
        with httpx.stream(
            "POST",
            f"{self.gw.base_url}/chat/completions",
            json=payload,
            headers=self.headers,
            timeout=30,
        ) as r:
            return Streamed(r.status_code, r.headers, r.read().decode())

    def generation(self, gen_id: str) -> dict[str, Any]:
        r = httpx.get(
            f"{self.gw.base_url}/generation",
            params={"id": gen_id},
            headers=self.headers,
            timeout=10,
        )
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()["data"]
        return data

    def responses(self, gen_id: str) -> list[tuple[str, int]]:
        """/generation's provider_responses as (provider, status)."""
        return [(p["provider"], p["status"]) for p in self.generation(gen_id)["provider_responses"]]


class Streamed:
    """A finished stream: its status, headers, and the SSE events split apart."""

    def __init__(self, status: int, headers: httpx.Headers, text: str) -> None:
        self.status = status
        self.headers = headers
        self.text = text
        self.events = [e for e in text.split("\n\n") if e.strip()]

    @property
    def comments(self) -> list[str]:
        return [e for e in self.events if e.startswith(":")]

    @property
    def data(self) -> list[str]:
        return [e[len("data: ") :] for e in self.events if e.startswith("data: ")]

    @property
    def chunks(self) -> list[dict[str, Any]]:
        return [json.loads(d) for d in self.data if d != "[DONE]"]

    @property
    def done(self) -> bool:
        return "[DONE]" in self.data

    @property
    def content(self) -> str:
        return "".join(
            (c.get("delta") or {}).get("content") or ""
            for ch in self.chunks
            for c in ch.get("choices") or ()
        )

    def json(self) -> Any:
        return json.loads(self.text)


def error_of(r: httpx.Response) -> dict[str, Any]:
    assert r.headers["content-type"].startswith("application/json"), r.headers
    err: dict[str, Any] = r.json()["error"]
    assert err["code"] == r.status_code
    return err


def attempt_statuses(err: dict[str, Any]) -> list[tuple[str, int]]:
    return [(a["provider"], a["status"]) for a in err["metadata"]["attempts"]]


def bursts(hits: list[dict[str, Any]], quiet_s: float = 0.12) -> list[list[dict[str, Any]]]:
    """Group requests that arrived within `quiet_s` of each other.

    The HTTP client resends at once when a pooled keep-alive connection turns out closed,
    so one gateway attempt that meets a reset may reach the mock once or twice; attempts
    the retry policy spaces out (backoff, Retry-After) land in separate bursts.
    """
    out: list[list[dict[str, Any]]] = []
    for h in hits:
        if out and h["time"] - out[-1][-1]["time"] < quiet_s:
            out[-1].append(h)
        else:
            out.append([h])
    return out
