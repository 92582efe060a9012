"""Cohere v2 Chat (`POST {base_url}/v2/chat`) behind the OpenAI Chat Completions interface.

Cohere v2 is close to OpenAI's shape (roles, OpenAI-style tools and tool calls) but
renames sampling fields, answers with content *items* (text and thinking), reports
usage as `tokens` / `billed_units`, and streams typed events rather than deltas.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson

from switchboard.api.params import dialect_parameters
from switchboard.catalog.types import ProviderInfo
from switchboard.dialects.base import UpstreamError, UpstreamRequest, requested_max_tokens
from switchboard.dialects.errors import classify, parse_body
from switchboard.dialects.sse import MalformedRun, SSEDecoder, SSEEvent

Chunk = dict[str, Any]


def _stop_sequences(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


# OpenAI field -> (Cohere field, transform). Later rows win, so the newer
# `max_completion_tokens` beats `max_tokens` when a client sends both.
_PARAMETERS: dict[str, tuple[str, Callable[[Any], Any] | None]] = {
    "temperature": ("temperature", None),
    "top_p": ("p", None),
    "top_k": ("k", None),
    "max_tokens": ("max_tokens", None),
    "max_completion_tokens": ("max_tokens", None),
    "stop": ("stop_sequences", _stop_sequences),
    "seed": ("seed", None),
    "frequency_penalty": ("frequency_penalty", None),
    "presence_penalty": ("presence_penalty", None),
}

FINISH_REASONS: dict[str, str] = {
    "COMPLETE": "stop",
    "STOP_SEQUENCE": "stop",
    "MAX_TOKENS": "length",
    "TOOL_CALL": "tool_calls",
    "ERROR": "error",
    "TIMEOUT": "error",
}

# Share of max_tokens given to thinking for an OpenRouter `reasoning.effort`
# (OpenRouter's own ratios), used when the client names no explicit budget.
_EFFORT_SHARE: dict[str, float] = {
    "minimal": 0.1,
    "low": 0.2,
    "medium": 0.5,
    "high": 0.8,
    "xhigh": 0.95,
}

_IMAGE_DETAILS = frozenset({"auto", "low", "high"})
_PLAN_SEPARATOR = "\n\n"


def _bad_request(message: str) -> UpstreamError:
    return UpstreamError(400, message, "bad_request")


def _bad_upstream(message: str, raw: Any = None) -> UpstreamError:
    return UpstreamError(502, message, "bad_gateway", raw)


# --- request ---------------------------------------------------------------


def _content(content: Any, role: str, *, images: bool) -> str | list[dict[str, Any]]:
    """OpenAI message content -> Cohere content: a string stays a string, parts become items."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    items: list[dict[str, Any]] = []
    for part in content:
        kind = part.get("type")
        if kind == "text":
            items.append({"type": "text", "text": part.get("text") or ""})
        elif kind == "image_url" and images:
            image = part.get("image_url")
            url = image if isinstance(image, str) else (image or {}).get("url")
            if not url:
                raise _bad_request(f"messages: an image_url part in a {role} message has no url")
            ref: dict[str, Any] = {"url": url}
            detail = None if isinstance(image, str) else image.get("detail")
            if detail in _IMAGE_DETAILS:
                ref["detail"] = detail
            items.append({"type": "image_url", "image_url": ref})
        else:
            raise _bad_request(
                f"messages: Cohere does not accept {kind!r} parts in {role} messages"
            )
    return items


def _tool_call(call: dict[str, Any]) -> dict[str, Any]:
    fn = call.get("function") or {}
    return {
        "id": call.get("id") or "",
        "type": "function",
        "function": {"name": fn.get("name") or "", "arguments": fn.get("arguments") or "{}"},
    }


def _message(msg: dict[str, Any]) -> dict[str, Any]:
    role = msg.get("role")
    if role in ("system", "developer"):
        return {"role": "system", "content": _content(msg.get("content"), "system", images=False)}
    if role == "user":
        return {"role": "user", "content": _content(msg.get("content"), "user", images=True)}
    if role == "assistant":
        out: dict[str, Any] = {"role": "assistant"}
        content = _content(msg.get("content"), "assistant", images=False)
        calls = msg.get("tool_calls") or []
        # Cohere rejects empty text beside tool calls; an assistant turn with
        # only tool calls carries no content at all. Earlier `reasoning` is not
        # sent back: only reasoning models accept thinking items.
        if content or not calls:
            out["content"] = content
        if calls:
            out["tool_calls"] = [_tool_call(c) for c in calls]
        return out
    if role == "tool":
        return {
            "role": "tool",
            "tool_call_id": msg.get("tool_call_id") or "",
            "content": _content(msg.get("content"), "tool", images=False),
        }
    raise _bad_request(f"messages: role {role!r} is not supported by Cohere")


def _tools(tools: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], bool]:
    out: list[dict[str, Any]] = []
    strict = False
    for tool in tools:
        if tool.get("type", "function") != "function":
            raise _bad_request(
                f"tools: Cohere supports only function tools, not {tool.get('type')!r}"
            )
        fn = tool.get("function") or {}
        spec: dict[str, Any] = {
            "name": fn.get("name") or "",
            # Cohere requires a schema; a function without one takes no arguments
            "parameters": fn.get("parameters") or {"type": "object", "properties": {}},
        }
        if fn.get("description"):
            spec["description"] = fn["description"]
        strict = strict or bool(fn.get("strict"))
        out.append({"type": "function", "function": spec})
    return out, strict


def _apply_tools(body: dict[str, Any], payload: dict[str, Any]) -> None:
    offered: list[dict[str, Any]] = body.get("tools") or []
    if not offered:
        return
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        # Cohere cannot name a tool: offer only that one and require a call.
        name = (choice.get("function") or {}).get("name")
        offered = [t for t in offered if (t.get("function") or {}).get("name") == name]
        if not offered:
            raise _bad_request(f"tool_choice: no tool named {name!r} in tools")
        payload["tool_choice"] = "REQUIRED"
    elif choice == "required":
        payload["tool_choice"] = "REQUIRED"
    elif choice == "none":
        payload["tool_choice"] = "NONE"
    payload["tools"], strict = _tools(offered)
    if strict:
        payload["strict_tools"] = True  # one switch for all tools: any strict tool asks for it


def _response_format(fmt: Any) -> dict[str, Any] | None:
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema":
        out: dict[str, Any] = {"type": "json_object"}
        schema = (fmt.get("json_schema") or {}).get("schema")
        if schema:
            out["json_schema"] = schema
        return out
    return None  # "text" is Cohere's default


def _thinking(body: dict[str, Any], max_tokens: int | None) -> dict[str, Any] | None:
    """OpenRouter `reasoning` (or OpenAI `reasoning_effort`) -> Cohere `thinking`."""
    reasoning = body.get("reasoning")
    effort = body.get("reasoning_effort")
    budget = None
    if isinstance(reasoning, dict):
        if reasoning.get("enabled") is False:
            return {"type": "disabled"}
        effort = reasoning.get("effort", effort)
        budget = reasoning.get("max_tokens")
    elif effort is None:
        return None  # unasked: the model's own default applies
    if effort == "none":
        return {"type": "disabled"}
    if budget is None and max_tokens and effort in _EFFORT_SHARE:
        budget = max(1, int(max_tokens * _EFFORT_SHARE[effort]))
    thinking: dict[str, Any] = {"type": "enabled"}
    if budget:
        thinking["token_budget"] = int(budget)
    return thinking


# --- response --------------------------------------------------------------


def _usage(raw: Any) -> dict[str, Any] | None:
    """Cohere usage -> the normalised usage dict; None when Cohere reported none."""
    if not isinstance(raw, dict):
        return None
    tokens = raw.get("tokens") or {}
    billed = raw.get("billed_units") or {}

    def count(key: str) -> int:
        value = tokens.get(key)
        return int(billed.get(key) or 0) if value is None else int(value)

    prompt, completion = count("input_tokens"), count("output_tokens")
    # never more cached than prompt tokens, whatever the fallback counted
    cached = min(int(raw.get("cached_tokens") or 0), prompt)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached, "cache_write_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def _finish_reason(native: Any, has_tool_calls: bool) -> str:
    finish = FINISH_REASONS.get(native, "stop") if isinstance(native, str) else "stop"
    # a client only runs tools when told so
    return "tool_calls" if has_tool_calls and finish == "stop" else finish


# --- the dialect -----------------------------------------------------------


class CohereDialect:
    name = "cohere"
    supported_parameters = dialect_parameters("cohere")  # the one parameter table

    def output_cap(self, body: dict[str, Any], default: int) -> int:
        cap = requested_max_tokens(body) or default
        thinking = _thinking(body, requested_max_tokens(body)) or {}
        budget = thinking.get("token_budget")
        return cap + (budget if isinstance(budget, int) and budget > 0 else 0)

    def build_request(
        self, provider: ProviderInfo, upstream_model: str, body: dict[str, Any], stream: bool
    ) -> UpstreamRequest:
        payload: dict[str, Any] = {
            "model": upstream_model,
            "messages": [_message(m) for m in body.get("messages") or []],
        }
        for field, (target, transform) in _PARAMETERS.items():
            value = body.get(field)
            if value is not None:
                payload[target] = transform(value) if transform else value
        if not payload.get("stop_sequences"):
            payload.pop("stop_sequences", None)
        _apply_tools(body, payload)
        fmt = _response_format(body.get("response_format"))
        if fmt:
            payload["response_format"] = fmt
        thinking = _thinking(body, payload.get("max_tokens"))
        if thinking:
            payload["thinking"] = thinking
        payload["stream"] = stream
        headers = {
            "Content-Type": "application/json",
            "Accept": "text/event-stream" if stream else "application/json",
        }
        if provider.api_key:
            headers["Authorization"] = f"Bearer {provider.api_key}"
        return UpstreamRequest(
            url=provider.base_url.rstrip("/") + "/v2/chat",
            headers=headers,
            body=orjson.dumps(payload),
        )

    def parse_response(self, data: bytes) -> dict[str, Any]:
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise _bad_upstream("Cohere answered 200 with a body that is not JSON") from exc
        message = doc.get("message") if isinstance(doc, dict) else None
        if not isinstance(message, dict):
            raise _bad_upstream("Cohere answered 200 without a message", doc)
        texts: list[str] = []
        thoughts: list[str] = []
        for item in message.get("content") or []:
            if item.get("type") == "text":
                texts.append(item.get("text") or "")
            elif item.get("type") == "thinking":
                thoughts.append(item.get("thinking") or "")
        # The tool plan is the model's reasoning before calling tools, not answer text;
        # a blank line keeps it apart from any thinking (the stream does the same).
        if message.get("tool_plan"):
            thoughts.append(_PLAN_SEPARATOR * bool(thoughts) + message["tool_plan"])
        calls = [_tool_call(c) for c in message.get("tool_calls") or []]
        out_message: dict[str, Any] = {
            "role": "assistant",
            "content": "".join(texts) if texts or not calls else None,
        }
        if thoughts:
            out_message["reasoning"] = "".join(thoughts)
        if calls:
            out_message["tool_calls"] = calls
        native = doc.get("finish_reason")
        return {
            "id": doc.get("id") or "",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": "",  # Cohere does not echo it; the executor knows which model answered
            "system_fingerprint": None,
            "choices": [
                {
                    "index": 0,
                    "message": out_message,
                    "finish_reason": _finish_reason(native, bool(calls)),
                    "native_finish_reason": native,
                    "logprobs": None,
                }
            ],
            "usage": _usage(doc.get("usage")),
        }

    def stream_translator(self) -> CohereStreamTranslator:
        return CohereStreamTranslator()

    def parse_error(self, status: int, data: bytes, headers: dict[str, str]) -> UpstreamError:
        raw = parse_body(data)
        if isinstance(raw, dict):
            message = str(raw.get("message") or raw.get("error") or "")
        else:
            message = str(raw).strip()
        message = message or f"Cohere answered HTTP {status}"
        # 498 is Cohere's "invalid token": to the client it is the auth failure it means
        err = classify(401 if status == 498 else status, message, raw, headers)
        err.upstream_status = status
        return err


class CohereStreamTranslator:
    """Sans-I/O: Cohere v2 SSE events -> OpenAI chat.completion.chunk dicts."""

    def __init__(self, created: int | None = None) -> None:
        self._sse = SSEDecoder()
        self._created = int(time.time()) if created is None else created
        self._id = ""
        self._started = False
        self._thought = False  # thinking was streamed (the tool plan then follows a blank line)
        self._planning = False
        # OpenAI numbers tool calls from 0; Cohere's `index` numbers content blocks
        self._tool_index = -1
        self._finished = False
        self._malformed = MalformedRun()

    def feed(self, data: bytes) -> list[Chunk]:
        return self._translate(self._sse.feed(data))

    def close(self) -> list[Chunk]:
        out = self._translate(self._sse.close())
        if not self._finished:
            raise _bad_upstream("Cohere stream ended before message-end")
        return out

    def _translate(self, events: list[SSEEvent]) -> list[Chunk]:
        out: list[Chunk] = []
        for event in events:
            if self._finished or not event.data or event.data == "[DONE]":
                continue
            try:
                obj = orjson.loads(event.data)
            except orjson.JSONDecodeError as exc:
                if self._malformed.skip(event.data):
                    continue
                raise _bad_upstream(
                    "Cohere sent a stream event that is not JSON", event.data
                ) from exc
            self._malformed.ok()
            out.extend(self._event(obj.get("type") or event.event or "", obj))
        return out

    def _event(self, kind: str, obj: dict[str, Any]) -> list[Chunk]:
        delta = obj.get("delta") or {}
        message = delta.get("message") or {}
        match kind:
            case "message-start":
                self._id = obj.get("id") or self._id
                return self._role()
            case "content-start" | "content-delta":
                content = message.get("content") or {}
                piece: dict[str, Any] = {}
                if content.get("thinking"):
                    piece["reasoning"] = content["thinking"]
                    self._thought = True
                if content.get("text"):
                    piece["content"] = content["text"]
                return self._delta(piece) if piece else []
            case "tool-plan-delta":
                plan = message.get("tool_plan")
                if not plan:
                    return []
                if self._thought and not self._planning:
                    plan = _PLAN_SEPARATOR + plan
                self._planning = True
                return self._delta({"reasoning": plan})
            case "tool-call-start":
                call = message.get("tool_calls") or {}
                fn = call.get("function") or {}
                self._tool_index += 1
                return self._tool_delta(
                    id=call.get("id") or "",
                    type="function",
                    function={"name": fn.get("name") or "", "arguments": fn.get("arguments") or ""},
                )
            case "tool-call-delta":
                fn = (message.get("tool_calls") or {}).get("function") or {}
                arguments = fn.get("arguments")
                if not arguments or self._tool_index < 0:
                    return []
                return self._tool_delta(function={"arguments": arguments})
            case "message-end":
                return self._end(delta)
            case _:
                # content-end, tool-call-end, citation-start/end, debug: nothing OpenAI carries
                return []

    def _chunk(self, choices: list[dict[str, Any]]) -> Chunk:
        return {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": "",
            "system_fingerprint": None,
            "choices": choices,
        }

    def _role(self) -> list[Chunk]:
        if self._started:
            return []
        self._started = True
        return [self._delta_chunk({"role": "assistant", "content": ""})]

    def _delta_chunk(self, delta: dict[str, Any]) -> Chunk:
        choice = {"index": 0, "delta": delta, "finish_reason": None, "native_finish_reason": None}
        return self._chunk([choice])

    def _delta(self, delta: dict[str, Any]) -> list[Chunk]:
        return [*self._role(), self._delta_chunk(delta)]

    def _tool_delta(self, **fields: Any) -> list[Chunk]:
        return self._delta({"tool_calls": [{"index": self._tool_index, **fields}]})

    def _end(self, delta: dict[str, Any]) -> list[Chunk]:
        native = delta.get("finish_reason")
        finish = _finish_reason(native, self._tool_index >= 0)
        out = self._role()
        choice: dict[str, Any] = {
            "index": 0, "delta": {}, "finish_reason": finish, "native_finish_reason": native,
        }
        out.append(self._chunk([choice]))
        usage = _usage(delta.get("usage"))
        if usage is not None:
            out.append({**self._chunk([]), "usage": usage})
        self._finished = True
        return out
