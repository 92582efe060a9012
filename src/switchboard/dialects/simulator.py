"""The offline simulator provider (SPEC §4): echo and lorem models, no network.

It can be told to be slow or to fail with `"simulate": {"latency_ms", "error", "after_chunks"}`
in the request body, so routing and fallback can be tried on a laptop.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Iterator
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


# The simulator never writes more than a real endpoint of it could (simulator.yaml's cap),
# whatever max_tokens says; text is produced lazily and the loop is yielded to regularly.
MAX_OUTPUT_TOKENS = 65_536
_YIELD_EVERY = 64  # pieces between explicit yields to the event loop in a stream
_MAX_ITEMS = 8  # array items a sampled tool argument may hold


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


def _number(value: Any, default: float) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if ok and abs(value) < 1e15 else default


def sample_for_schema(schema: Any, rng: random.Random, depth: int = 0) -> Any:
    """A value that validates against a (simple) JSON schema; bounded whatever the schema says."""
    if not isinstance(schema, dict) or depth > 8:
        return None
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            return sample_for_schema(schema[key][0], rng, depth + 1)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props = schema.get("properties")
        if not isinstance(props, dict):
            return {}
        return {str(k): sample_for_schema(v, rng, depth + 1) for k, v in props.items()}
    if kind == "array":
        n = min(_MAX_ITEMS, max(1, int(_number(schema.get("minItems"), 1))))
        return [sample_for_schema(schema.get("items", {}), rng, depth + 1) for _ in range(n)]
    if kind == "integer":
        return int(_number(schema.get("minimum"), 1))
    if kind == "number":
        return _number(schema.get("minimum"), 1.5)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return "sample"


def _lorem_words(count: int) -> Iterator[str]:
    for i in range(count):
        word = _LOREM[i % len(_LOREM)]
        yield word if i == 0 else " " + word


def _lorem_chars(count: int) -> int:
    """Length of the lorem text of `count` words, without building it."""
    cycle = len(_LOREM)
    full, rest = divmod(count, cycle)
    letters = full * sum(map(len, _LOREM)) + sum(len(w) for w in _LOREM[:rest])
    return letters + max(0, count - 1)


def _lorem_fitting(tokens: int) -> int:
    """The most lorem words whose text stays within `tokens` (four characters each)."""
    per_word = sum(map(len, _LOREM)) / len(_LOREM) + 1
    words = max(1, int(tokens * 4 / per_word))
    while words > 1 and _lorem_chars(words) > tokens * 4:
        words -= 1
    return words


def _lorem_text(words: int) -> str:
    return "".join(_lorem_words(words))


def _split_words(text: str) -> Iterator[str]:
    """The text's words with their leading spaces, one at a time (no list of the whole)."""
    start = 0
    while start < len(text):
        nxt = text.find(" ", start + 1)
        if nxt < 0:
            nxt = len(text)
        yield text[start:nxt]
        start = nxt


class Simulation:
    """One simulated answer: content pieces, tool calls and the knobs that make it misbehave.

    The knobs were checked at the door (chat_schema.Simulate); this reads them defensively
    anyway, since the dialect can be reached with a body built elsewhere.
    """

    def __init__(self, upstream_model: str, body: dict[str, Any]) -> None:
        raw_sim = body.get("simulate")
        sim: dict[str, Any] = raw_sim if isinstance(raw_sim, dict) else {}
        self.latency_s = min(max(_number(sim.get("latency_ms"), 0), 0), 60_000) / 1000
        self.chunk_delay_s = min(max(_number(sim.get("chunk_delay_ms"), 0), 0), 10_000) / 1000
        error = sim.get("error")
        # an integer HTTP status to fail with; anything else means "do not fail"
        self.error: int | None = (
            error if isinstance(error, int) and not isinstance(error, bool)
            and 400 <= error < 600 else None)
        after = sim.get("after_chunks")
        self.after_chunks: int | None = (
            after if isinstance(after, int) and not isinstance(after, bool) and after >= 0
            else None)
        self.model = upstream_model
        messages = body.get("messages") or []
        seed = body.get("seed", 0)
        rng = random.Random(seed if isinstance(seed, int) else 0)
        self.tool_calls: list[dict[str, Any]] = []
        self.finish = "stop"
        raw_max = body.get("max_completion_tokens") or body.get("max_tokens")
        requested = int(raw_max) if isinstance(raw_max, int) and raw_max > 0 else None
        limit = min(requested or MAX_OUTPUT_TOKENS, MAX_OUTPUT_TOKENS)
        self.lorem = 0  # words of lorem text, produced lazily
        text = ""
        raw_fmt = body.get("response_format")
        fmt: dict[str, Any] = raw_fmt if isinstance(raw_fmt, dict) else {}
        tools = [t for t in body.get("tools") or [] if isinstance(t, dict)]
        choice = body.get("tool_choice", "auto")
        if tools and choice != "none" and not self._answered_tool(messages):
            self._call_tool(tools, choice, rng)
        elif fmt.get("type") == "json_schema":
            spec = fmt.get("json_schema")
            schema = spec.get("schema") if isinstance(spec, dict) else None
            text = orjson.dumps(sample_for_schema(schema or {}, rng)).decode()
        elif upstream_model == "lorem" and fmt.get("type") != "json_object":
            # exactly the requested length (at four characters a token), or 64 tokens
            self.lorem = _lorem_fitting(limit if requested else 64)
            if requested:
                self.finish = "length"
        else:
            text = _lorem_text(_lorem_fitting(limit)) if upstream_model == "lorem" else (
                self._echo(messages))
            if fmt.get("type") == "json_object":
                text = orjson.dumps({"echo": text}).decode()
            elif text_tokens(text) > limit:
                text = text[: limit * 4]
                self.finish = "length"
        self.text = text
        self.prompt_tokens = prompt_tokens(messages, tools or None)
        produced = -(-_lorem_chars(self.lorem) // 4) if self.lorem else text_tokens(text)
        self.completion_tokens = produced + sum(
            text_tokens(c["function"]["arguments"]) + 3 for c in self.tool_calls
        )

    def _call_tool(self, tools: list[dict[str, Any]], choice: Any, rng: random.Random) -> None:
        tool = tools[0]
        if isinstance(choice, dict):
            wanted = choice.get("function")
            name = wanted.get("name") if isinstance(wanted, dict) else None
            tool = next((t for t in tools if (t.get("function") or {}).get("name") == name), tool)
        fn = tool.get("function")
        fn = fn if isinstance(fn, dict) else {}
        args = sample_for_schema(fn.get("parameters") or {}, rng) or {}
        self.tool_calls.append(
            {
                "id": f"call_sim_{rng.randrange(16**8):08x}",
                "type": "function",
                "function": {
                    "name": str(fn.get("name", "tool")),
                    "arguments": orjson.dumps(args).decode(),
                },
            }
        )
        self.finish = "tool_calls"

    @staticmethod
    def _answered_tool(messages: list[Any]) -> bool:
        return (
            bool(messages) and isinstance(messages[-1], dict) and messages[-1].get("role") == "tool"
        )

    @staticmethod
    def _echo(messages: list[Any]) -> str:
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

    def pieces(self) -> Iterator[str]:
        """The answer's words, produced one at a time."""
        return _lorem_words(self.lorem) if self.lorem else _split_words(self.text)

    def whole_text(self) -> str:
        return "".join(self.pieces())


class SimulatorDialect:
    name = "simulator"
    supported_parameters = dialect_parameters("simulator")  # the one parameter table

    async def complete(self, upstream_model: str, body: dict[str, Any]) -> dict[str, Any]:
        sim = Simulation(upstream_model, body)
        if sim.latency_s:
            await asyncio.sleep(sim.latency_s)
        if sim.error:
            raise sim.fail()
        message: dict[str, Any] = {"role": "assistant", "content": sim.whole_text() or None}
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
            if sim.error and sim.after_chunks is not None and sent >= sim.after_chunks:
                raise sim.fail()
            if sim.chunk_delay_s:
                await asyncio.sleep(sim.chunk_delay_s)
            elif sent % _YIELD_EVERY == _YIELD_EVERY - 1:
                await asyncio.sleep(0)  # a long answer must not starve other requests
            yield chunk({"content": piece})
        if sim.error and sim.after_chunks is not None:
            raise sim.fail()
        for i, call in enumerate(sim.tool_calls):
            yield chunk({"tool_calls": [{"index": i, **call}]})
        yield chunk({}, sim.finish)
        yield {**base, "choices": [], "usage": sim.usage()}
