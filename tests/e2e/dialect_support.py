"""Shared pieces of the dialect end-to-end tests.

One gateway config with a provider of every dialect, all pointing at the mock upstream; an
openai SDK client that also keeps the raw bytes it read (so a test can see `data: [DONE]`);
and helpers that run a request plain or streamed and fold the answer into one `Answer`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
import openai
import yaml
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from tests.support import GatewayServer


@dataclass(frozen=True)
class Provider:
    api: str
    prefix: str  # the provider's path on the mock; also the key its replies are scripted under
    api_key: str
    base_suffix: str = ""  # what follows the prefix in base_url (OpenAI-compatible: /v1)
    options: dict[str, Any] = field(default_factory=dict)
    model: str = "upstream-model"  # the upstream model of the fixed `e2e/<provider>` model


PROVIDERS: dict[str, Provider] = {
    "anthropic": Provider("anthropic", "/anth/", "sk-ant-e2e", model="claude-sonnet-4-5"),
    "gemini": Provider("gemini", "/gem/", "gm-e2e-key", model="gemini-2.5-flash"),
    # a token minted elsewhere, as api_key: used as it is, no Google credentials needed
    "vertex": Provider("vertex", "/vtx/", "ya29.e2e-token", model="gemini-2.5-flash",
                       options={"project": "p", "location": "us-central1"}),
    "cohere": Provider("cohere", "/coh/", "co-e2e-key", model="command-a-03-2025"),
    "azure": Provider("azure", "/az/", "az-e2e-key", model="gpt-4o-deploy",
                      options={"api_version": "2024-10-21"}),
    "openai": Provider("openai", "/oai/", "sk-oai-e2e", "v1", model="gpt-4o-mini"),
    "mistral": Provider("openai", "/mis/", "sk-mis-e2e", "v1", model="mistral-large-latest"),
    "groq": Provider("openai", "/groq/", "gsk-e2e", "openai/v1", model="llama-3.3-70b"),
    # OpenRouter itself as an OpenAI-compatible upstream: its recorded answers carry
    # keep-alive comments, reasoning_details and its own cost fields
    "openrouter": Provider("openai", "/or/", "sk-or-e2e", "api/v1", model="openai/gpt-4o"),
}

# provider cost, USD per million tokens; cached reads and writes priced apart so a test sees
# the cache counts the dialect reported reach billing
PRICING = {"prompt": 1, "completion": 2, "input_cache_read": 0.5, "input_cache_write": 1.25}
MARKUP = Decimal("0.10")
PARAMETERS = ["tools", "tool_choice", "parallel_tool_calls", "response_format", "temperature",
              "top_p", "top_k", "stop", "max_tokens", "seed", "reasoning"]


CROSS_MODEL = "e2e/cross"
CROSS_PROVIDERS = ("anthropic", "gemini", "cohere", "azure")


def fixed_model(provider: str) -> str:
    """The catalog id of the one plain model each provider serves."""
    return f"e2e/{provider}"


def gateway_config(mock_url: str, extra_models: dict[str, tuple[str, str]] | None = None) -> str:
    """YAML config: every provider of PROVIDERS, the fixed models and `extra_models`
    (catalog id -> (provider, upstream model))."""
    providers = []
    for name, p in PROVIDERS.items():
        entry: dict[str, Any] = {
            "name": name, "display_name": name.title(), "api": p.api,
            "base_url": f"{mock_url}{p.prefix}{p.base_suffix}".rstrip("/"),
            "api_key": p.api_key,
            "timeouts": {"connect": 2, "first_token": 10, "idle": 10},
            # replayed failures must not open the circuit for the tests after them
            "circuit": {"failures": 10_000, "cooldown_s": 0},
        }
        if p.options:
            entry["options"] = p.options
        providers.append(entry)
    models = {fixed_model(name): [(name, p.model)] for name, p in PROVIDERS.items()}
    # one model served by a provider of every non-OpenAI dialect, for fallback across them
    models[CROSS_MODEL] = [(name, PROVIDERS[name].model) for name in CROSS_PROVIDERS]
    models.update({k: [v] for k, v in (extra_models or {}).items()})
    return yaml.safe_dump({
        "builtin_catalog": False,
        "markup": float(MARKUP),
        "providers": providers,
        "models": [
            {"id": model_id, "name": model_id, "context_length": 1_000_000,
             "modality": "text+image->text",
             "endpoints": [{"provider": provider, "model": upstream, "pricing": PRICING,
                            "supported_parameters": PARAMETERS}
                           for provider, upstream in endpoints]}
            for model_id, endpoints in models.items()
        ],
    }, sort_keys=False)


def expected_cost(usage: dict[str, int]) -> float:
    """What the caller pays for `usage` (normalised counts) at PRICING with the markup."""
    cached, written = usage.get("cached_tokens", 0), usage.get("cache_write_tokens", 0)
    uncached = usage["prompt_tokens"] - cached - written
    provider = (uncached * Decimal(PRICING["prompt"])
                + cached * Decimal(str(PRICING["input_cache_read"]))
                + written * Decimal(str(PRICING["input_cache_write"]))
                + usage["completion_tokens"] * Decimal(PRICING["completion"])) / 1_000_000
    return float(provider * (1 + MARKUP))


# -- the client ---------------------------------------------------------------------------


class _Tee(httpx.SyncByteStream):
    def __init__(self, inner: Any, sink: bytearray) -> None:
        self._inner, self._sink = inner, sink

    def __iter__(self) -> Iterator[bytes]:
        for part in self._inner:
            self._sink.extend(part)
            yield part

    def close(self) -> None:
        self._inner.close()


class RecordingTransport(httpx.HTTPTransport):
    """Keeps the raw bytes of the last response read through it."""

    def __init__(self) -> None:
        super().__init__()
        self.raw = bytearray()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        self.raw = bytearray()
        response.stream = _Tee(response.stream, self.raw)
        return response


class Client:
    """The openai SDK pointed at the gateway, with the raw bytes of its last answer."""

    def __init__(self, gw: GatewayServer, key: str) -> None:
        self.transport = RecordingTransport()
        self.sdk = openai.OpenAI(base_url=gw.base_url, api_key=key, max_retries=0, timeout=30,
                                 http_client=httpx.Client(transport=self.transport))

    @property
    def raw(self) -> bytes:
        return bytes(self.transport.raw)


# SDK keyword arguments; anything else in a request goes as extra_body, as a client would send it
_SDK_ARGS = frozenset({
    "tools", "tool_choice", "max_tokens", "max_completion_tokens", "temperature", "top_p", "stop",
    "response_format", "parallel_tool_calls", "stream_options", "n", "frequency_penalty",
    "presence_penalty", "seed", "reasoning_effort", "user",
})


def _split(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    kwargs = {k: v for k, v in body.items() if k in _SDK_ARGS}
    extra = {k: v for k, v in body.items() if k not in _SDK_ARGS}
    return kwargs, extra


@dataclass
class Answer:
    """What a client got, plain or streamed, folded the same way."""

    text: str = ""
    reasoning: str = ""
    tool_calls: list[tuple[str, str, Any]] = field(default_factory=list)  # id, name, arguments
    finish: str | None = None
    native: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)  # the gateway's usage object, as JSON
    body: dict[str, Any] = field(default_factory=dict)  # plain: the JSON body; stream: last chunk
    chunks: list[ChatCompletionChunk] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def tool_args(self) -> list[tuple[str, Any]]:
        return [(name, args) for _, name, args in self.tool_calls]


def _arguments(raw: str | None) -> Any:
    return json.loads(raw or "{}")  # must be valid JSON: a client parses it as is


def complete(client: Client, model: str, body: dict[str, Any]) -> Answer:
    """A plain request through the SDK; the answer checked for OpenRouter's shape."""
    kwargs, extra = _split(body)
    raw = client.sdk.chat.completions.with_raw_response.create(
        model=model, messages=body["messages"], extra_body=extra, **kwargs)
    resp: ChatCompletion = raw.parse()
    data = raw.http_response.json()
    assert raw.http_response.headers["content-type"].startswith("application/json")
    assert resp.id.startswith("gen-") and resp.model == model
    assert resp.object == "chat.completion" and "system_fingerprint" in data
    (choice,) = resp.choices
    message = choice.message
    assert message.role == "assistant"
    calls = message.tool_calls or []
    return Answer(
        text=message.content or "",
        reasoning=data["choices"][0]["message"].get("reasoning") or "",
        tool_calls=[(c.id, c.function.name, _arguments(c.function.arguments)) for c in calls],
        finish=choice.finish_reason,
        native=data["choices"][0].get("native_finish_reason"),
        usage=data["usage"], body=data, headers=dict(raw.http_response.headers),
    )


def stream(client: Client, model: str, body: dict[str, Any]) -> Answer:
    """A streamed request through the SDK; the chunks checked and folded like a client does."""
    kwargs, extra = _split(body)
    chunks = list(client.sdk.chat.completions.create(
        model=model, messages=body["messages"], stream=True, extra_body=extra, **kwargs))
    assert client.raw.endswith(b"data: [DONE]\n\n"), client.raw[-300:]
    return fold_chunks(chunks, model)


def fold_chunks(chunks: list[ChatCompletionChunk], model: str, finished: bool = True) -> Answer:
    assert chunks, "no chunks"
    out = Answer(chunks=chunks)
    gen_id = chunks[0].id
    assert gen_id.startswith("gen-")
    assert chunks[0].choices and chunks[0].choices[0].delta.role == "assistant"
    usage_chunks = [c for c in chunks if c.usage is not None]
    if finished:
        assert len(usage_chunks) == 1 and usage_chunks[0] is chunks[-1], "usage once, at the end"
        assert chunks[-1].choices == []
        out.usage = chunks[-1].model_dump(mode="json")["usage"]
        out.body = chunks[-1].model_dump(mode="json")
    calls: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        assert chunk.id == gen_id and chunk.model == model
        assert chunk.object == "chat.completion.chunk"
        for choice in chunk.choices:
            assert choice.index == 0
            delta = choice.delta
            extra = delta.model_extra or {}
            out.text += delta.content or ""
            out.reasoning += extra.get("reasoning") or ""
            if choice.finish_reason is not None:
                assert out.finish is None, "one finish_reason"
                out.finish = choice.finish_reason
                out.native = (choice.model_extra or {}).get("native_finish_reason")
            for call in delta.tool_calls or []:
                slot = calls.get(call.index)
                if slot is None:
                    assert call.id and call.function and call.function.name, call
                    slot = calls[call.index] = {"id": call.id, "name": "", "arguments": ""}
                slot["name"] += (call.function and call.function.name) or ""
                slot["arguments"] += (call.function and call.function.arguments) or ""
    assert sorted(calls) == list(range(len(calls))), "tool-call indexes count from 0"
    out.tool_calls = [(c["id"], c["name"], _arguments(c["arguments"]))
                      for _, c in sorted(calls.items())]
    return out


def sse_data(raw: bytes) -> list[str]:
    """The `data:` payloads of an SSE body, comments left out."""
    out = []
    for frame in raw.decode().replace("\r\n", "\n").split("\n\n"):
        lines = [ln[5:].lstrip() for ln in frame.split("\n") if ln.startswith("data:")]
        if lines:
            out.append("\n".join(lines))
    return out


def sse_bytes(events: list[dict[str, Any]], named: bool = False) -> bytes:
    """Native SSE frames (`event:` lines too when the provider names its events)."""
    out = b""
    for ev in events:
        head = f"event: {ev['type']}\n".encode() if named else b""
        out += head + b"data: " + json.dumps(ev).encode() + b"\n\n"
    return out


def split_bytes(data: bytes, size: int = 97) -> list[bytes]:
    """A body cut at odd places, one write each, as a network delivers it."""
    return [data[i:i + size] for i in range(0, len(data), size)] or [b""]


def assistant_turn(answer: Answer) -> dict[str, Any]:
    """The assistant message a client sends back on the next turn: the message as received
    (extras such as reasoning_details included), or, after a stream, rebuilt from the deltas."""
    choices = answer.body.get("choices")
    if choices:
        return {k: v for k, v in choices[0]["message"].items() if v is not None}
    msg: dict[str, Any] = {"role": "assistant", "content": answer.text or None}
    if answer.tool_calls:
        msg["tool_calls"] = [{"id": i, "type": "function", "function": {
            "name": name, "arguments": json.dumps(args)}} for i, name, args in answer.tool_calls]
    return msg


def only_hit(upstream: Any, prefix: str) -> tuple[str, dict[str, str], dict[str, Any]]:
    """(path with query, lower-cased headers, JSON body) of the one request the mock got."""
    (hit,) = upstream.hits(prefix)
    return hit["path"], {k.lower(): v for k, v in hit["headers"].items()}, hit["body"]


WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}
PERSON_SCHEMA = {
    "type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"], "additionalProperties": False}
PERSON_FORMAT = {"type": "json_schema",
                 "json_schema": {"name": "person", "strict": True, "schema": PERSON_SCHEMA}}
PNG_DATA = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9a"
            "wAAAABJRU5ErkJggg==")
IMAGE_URL = "https://example.com/pelican.jpg"
IMAGE_MESSAGE = {"role": "user", "content": [
    {"type": "text", "text": "What are these?"},
    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_DATA}"}},
    {"type": "image_url", "image_url": {"url": IMAGE_URL}},
]}
