"""The offline simulator provider (SPEC §4): echo and lorem models, no network.

It can be told to be slow or to fail with `"simulate": {"latency_ms", "error", "after_chunks"}`
in the request body, so routing and fallback can be tried on a laptop.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson

from switchboard.api.params import dialect_parameters
from switchboard.dialects.base import UpstreamError
from switchboard.tokens import prompt_tokens, text_tokens

_LOREM = [
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "consectetur",
    "adipiscing",
    "elit",
    "sed",
    "do",
    "eiusmod",
    "tempor",
    "incididunt",
    "ut",
    "labore",
    "et",
    "dolore",
    "magna",
    "aliqua",
    "ut",
    "enim",
    "ad",
    "minim",
    "veniam",
    "quis",
    "nostrud",
    "exercitation",
    "ullamco",
    "laboris",
    "nisi",
    "ut",
    "aliquip",
    "ex",
    "ea",
    "commodo",
    "consequat",
]


def _last_user_text(messages: list[Any]) -> str:
    for m in reversed(messages):
        if isinstance(m, dict) and m.get("role") == "user":
            c = m.get("content")
            if isinstance(c, str):
                return c
            if isinstance(c, list):
                return " ".join(
                    str(p.get("text", ""))
                    for p in c
                    if isinstance(p, dict) and p.get("type") == "text"
                )
    return ""


def sample_for_schema(schema: Any, rng: random.Random, depth: int = 0) -> Any:
    """A value that validates against a (simple) JSON schema."""
    if not isinstance(schema, dict) or depth > 8:
        return None
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return sample_for_schema(schema[key][0], rng, depth + 1)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props = schema.get("properties") or {}
        return {k: sample_for_schema(v, rng, depth + 1) for k, v in props.items()}
    if kind == "array":
        n = max(1, int(schema.get("minItems", 1)))
        return [sample_for_schema(schema.get("items", {}), rng, depth + 1) for _ in range(n)]
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 1.5))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return "sample"


class Simulation:
    """One simulated answer: content pieces, tool calls and the knobs that make it misbehave."""

    def __init__(self, upstream_model: str, body: dict[str, Any]) -> None:
        raw_sim = body.get("simulate")
        sim: dict[str, Any] = raw_sim if isinstance(raw_sim, dict) else {}
        self.latency_s = float(sim.get("latency_ms", 0) or 0) / 1000
        self.chunk_delay_s = float(sim.get("chunk_delay_ms", 0) or 0) / 1000
        error = sim.get("error")
        # an integer HTTP status to fail with; anything else means "do not fail"
        self.error: int | None = error if isinstance(error, int) and 400 <= error < 600 else None
        self.after_chunks = sim.get("after_chunks")
        self.model = upstream_model
        messages = body.get("messages") or []
        rng = random.Random(body.get("seed", 0))
        self.tool_calls: list[dict[str, Any]] = []
        self.finish = "stop"
        max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
        text = self._text(upstream_model, messages, max_tokens)
        raw_fmt = body.get("response_format")
        fmt: dict[str, Any] = raw_fmt if isinstance(raw_fmt, dict) else {}
        tools = body.get("tools") or []
        choice = body.get("tool_choice", "auto")
        if tools and choice != "none" and not self._answered_tool(messages):
            tool = tools[0]
            if isinstance(choice, dict):
                name = choice.get("function", {}).get("name")
                tool = next((t for t in tools if t.get("function", {}).get("name") == name), tool)
            fn = tool.get("function", {})
            args = sample_for_schema(fn.get("parameters") or {}, rng) or {}
            self.tool_calls.append(
                {
                    "id": f"call_sim_{rng.randrange(16**8):08x}",
                    "type": "function",
                    "function": {
                        "name": fn.get("name", "tool"),
                        "arguments": orjson.dumps(args).decode(),
                    },
                }
            )
            self.finish = "tool_calls"
            text = ""
        elif fmt.get("type") == "json_schema":
            schema = (fmt.get("json_schema") or {}).get("schema") or {}
            text = orjson.dumps(sample_for_schema(schema, rng)).decode()
        elif fmt.get("type") == "json_object":
            text = orjson.dumps({"echo": text}).decode()
        elif max_tokens and text_tokens(text) > int(max_tokens):
            text = text[: int(max_tokens) * 4]
            self.finish = "length"
        self.text = text
        self.prompt_tokens = prompt_tokens(messages, tools or None)
        self.completion_tokens = text_tokens(text) + sum(
            text_tokens(c["function"]["arguments"]) + 3 for c in self.tool_calls
        )

    @staticmethod
    def _answered_tool(messages: list[Any]) -> bool:
        return (
            bool(messages) and isinstance(messages[-1], dict) and messages[-1].get("role") == "tool"
        )

    @staticmethod
    def _text(model: str, messages: list[Any], max_tokens: Any) -> str:
        if model == "lorem":
            n = int(max_tokens or 64)
            words = [_LOREM[i % len(_LOREM)] for i in range(max(1, int(n * 3 / 4)))]
            return " ".join(words)
        if messages and isinstance(messages[-1], dict) and messages[-1].get("role") == "tool":
            return f"Tool result: {messages[-1].get('content')}"
        return _last_user_text(messages) or "(no user message)"

    def usage(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0},
        }

    def fail(self) -> UpstreamError:
        status = int(self.error or 500)
        etype = {429: "rate_limit_exceeded", 408: "timeout"}.get(status, "provider_unavailable")
        raw = {"error": {"message": f"simulated upstream error {status}", "code": status}}
        client_status = status if status in (400, 401, 402, 403, 404, 408, 413, 422, 429) else 502
        return UpstreamError(
            client_status, f"simulated upstream error {status}", etype, raw, upstream_status=status
        )

    def pieces(self) -> list[str]:
        words = self.text.split(" ")
        return [w if i == 0 else " " + w for i, w in enumerate(words)] if self.text else []


class SimulatorDialect:
    name = "simulator"
    supported_parameters = dialect_parameters("simulator")  # the one parameter table

    async def complete(self, upstream_model: str, body: dict[str, Any]) -> dict[str, Any]:
        sim = Simulation(upstream_model, body)
        if sim.latency_s:
            await asyncio.sleep(sim.latency_s)
        if sim.error:
            raise sim.fail()
        message: dict[str, Any] = {"role": "assistant", "content": sim.text or None}
        if sim.tool_calls:
            message["tool_calls"] = sim.tool_calls
        return {
            "id": f"sim-{time.time_ns()}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": upstream_model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": sim.finish,
                    "native_finish_reason": sim.finish,
                    "logprobs": None,
                }
            ],
            "usage": sim.usage(),
        }

    async def stream(
        self, upstream_model: str, body: dict[str, Any]
    ) -> AsyncIterator[dict[str, Any]]:
        sim = Simulation(upstream_model, body)
        if sim.latency_s:
            await asyncio.sleep(sim.latency_s)
        if sim.error and sim.after_chunks is None:
            raise sim.fail()
        base = {
            "id": f"sim-{time.time_ns()}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": upstream_model,
        }

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {
                **base,
                "choices": [
                    {
                        "index": 0,
                        "delta": delta,
                        "finish_reason": finish,
                        "native_finish_reason": finish,
                    }
                ],
            }

        yield chunk({"role": "assistant", "content": ""})
        for sent, piece in enumerate(sim.pieces()):
            if sim.error and sim.after_chunks is not None and sent >= int(sim.after_chunks):
                raise sim.fail()
            if sim.chunk_delay_s:
                await asyncio.sleep(sim.chunk_delay_s)
            yield chunk({"content": piece})
        if sim.error and sim.after_chunks is not None:
            raise sim.fail()
        for i, call in enumerate(sim.tool_calls):
            yield chunk({"tool_calls": [{"index": i, **call}]})
        yield chunk({}, sim.finish)
        yield {**base, "choices": [], "usage": sim.usage()}
