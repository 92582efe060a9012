"""Anthropic Messages API: OpenAI Chat Completions in, `POST /v1/messages` out, and back."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import orjson

from switchboard.api.params import dialect_parameters
from switchboard.catalog.types import ProviderInfo
from switchboard.dialects.base import UpstreamError, UpstreamRequest, requested_max_tokens
from switchboard.dialects.errors import classify, parse_body
from switchboard.dialects.sse import MalformedRun, SSEDecoder, SSEEvent

API_VERSION = "2023-06-01"
# `claude-sonnet-4-6[1m]` in the catalog: the model with the 1M-token context window, a beta
# that Anthropic switches on per request with this header.
LONG_CONTEXT_SUFFIX = "[1m]"
LONG_CONTEXT_BETA = "context-1m-2025-08-07"
DEFAULT_MAX_TOKENS = 4096
MIN_THINKING_BUDGET = 1024  # Anthropic rejects smaller budgets
REASONING_FORMAT = "anthropic-claude-v1"
# A json_schema answer travels as a forced tool call. Responses are parsed without the request
# at hand, so the tool's name itself marks it as the answer rather than a caller's tool.
JSON_TOOL_PREFIX = "json_answer__"
_JSON_OBJECT_HINT = "Respond only with a single valid JSON object, without any other text."

SUPPORTED = dialect_parameters("anthropic")  # the one parameter table

# OpenAI field -> (Anthropic field, transform); None values are never sent.
_PARAMS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "temperature": ("temperature", lambda v: min(max(float(v), 0.0), 1.0)),  # OpenAI allows 2
    "top_p": ("top_p", float),
    "top_k": ("top_k", int),
    "stop": ("stop_sequences", lambda v: [v] if isinstance(v, str) else list(v)),
}
_EFFORT_SHARE = {"minimal": 0.1, "low": 0.2, "medium": 0.5, "high": 0.8, "xhigh": 0.95}
_FINISH = {
    "end_turn": "stop", "stop_sequence": "stop", "pause_turn": "stop", "tool_use": "tool_calls",
    "max_tokens": "length", "model_context_window_exceeded": "length",
    "refusal": "content_filter",
}
# An `error` event inside a 200 stream names only its type; this is the status it stands for.
_ERROR_STATUS = {
    "invalid_request_error": 400, "authentication_error": 401, "billing_error": 402,
    "permission_error": 403, "not_found_error": 404, "request_too_large": 413,
    "rate_limit_error": 429, "api_error": 500, "timeout_error": 504, "overloaded_error": 529,
}
_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})

Block = dict[str, Any]


def _bad_request(message: str) -> UpstreamError:
    return UpstreamError(400, message, "bad_request")


def _bad_gateway(message: str, raw: Any = None) -> UpstreamError:
    return UpstreamError(502, message, "bad_gateway", raw)


# -- request -------------------------------------------------------------------------------


def _source(url: str, where: str, kinds: frozenset[str]) -> Block:
    if not url.startswith("data:"):
        return {"type": "url", "url": url}
    header, sep, data = url[5:].partition(",")
    media_type, _, encoding = header.partition(";")
    media_type = "image/jpeg" if media_type == "image/jpg" else media_type
    if not sep or encoding != "base64" or media_type not in kinds:
        raise _bad_request(f"{where}: Anthropic needs a base64 data URI of {sorted(kinds)}")
    return {"type": "base64", "media_type": media_type, "data": data}


def _part(part: Any, where: str) -> Block | None:
    """One OpenAI content part -> one Anthropic block (None for empty text, which it rejects)."""
    kind = part.get("type") if isinstance(part, dict) else None
    block: Block | None
    if kind in ("text", "refusal"):
        text = part.get(kind) or ""
        block = {"type": "text", "text": text} if text else None
    elif kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        block = {"type": "image", "source": _source(str(url or ""), where, _IMAGE_TYPES)}
    elif kind == "file":
        data = (part.get("file") or {}).get("file_data")
        if not data:
            raise _bad_request(f"{where}.file.file_data is required (file ids are not supported)")
        source = _source(data, where, frozenset({"application/pdf"}))
        block = {"type": "document", "source": source}
    else:
        raise _bad_request(f"{where}.type: {kind!r} content is not supported by Anthropic")
    if block is not None and part.get("cache_control"):
        block["cache_control"] = part["cache_control"]
    return block


def _blocks(content: Any, where: str) -> list[Block]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise _bad_request(f"{where}.content must be a string or a list of parts")
    converted = (_part(p, f"{where}.content[{j}]") for j, p in enumerate(content))
    return [b for b in converted if b is not None]


def _arguments(raw: Any, where: str) -> dict[str, Any]:
    if raw is None or raw == "":
        return {}  # some clients send "" for a call without arguments
    try:
        value = orjson.loads(raw) if isinstance(raw, str | bytes) else raw
    except orjson.JSONDecodeError:
        raise _bad_request(f"{where}.function.arguments is not valid JSON") from None
    if not isinstance(value, dict):
        raise _bad_request(f"{where}.function.arguments must be a JSON object")
    return value


def _replayed_thinking(details: Any) -> list[Block]:
    """reasoning_details from an earlier answer -> thinking blocks Anthropic can verify.

    Streamed details arrive as fragments sharing an index, so text is merged per index.
    Details of other providers carry no Anthropic signature and are left out.
    """
    merged: dict[Any, Block] = {}
    for n, d in enumerate(details if isinstance(details, list) else []):
        if not isinstance(d, dict) or d.get("format") not in (None, REASONING_FORMAT):
            continue
        key = d.get("index", f"#{n}")
        if d.get("type") == "reasoning.encrypted" and d.get("data"):
            merged[key] = {"type": "redacted_thinking", "data": d["data"]}
        elif d.get("type") == "reasoning.text":
            block = merged.setdefault(key, {"type": "thinking", "thinking": "", "signature": ""})
            block["thinking"] += d.get("text") or ""
            block["signature"] = d.get("signature") or block["signature"]
    return [b for b in merged.values() if b["type"] == "redacted_thinking" or b["signature"]]


def _assistant(msg: dict[str, Any], where: str) -> list[Block]:
    blocks = _replayed_thinking(msg.get("reasoning_details"))
    blocks += _blocks(msg.get("content"), where)
    for k, call in enumerate(msg.get("tool_calls") or []):
        fn = call.get("function") or {}
        args = _arguments(fn.get("arguments"), f"{where}.tool_calls[{k}]")
        blocks.append({"type": "tool_use", "id": call.get("id"), "name": fn.get("name"),
                       "input": args})
    return blocks


def _tool_result(msg: dict[str, Any], where: str) -> Block:
    if not msg.get("tool_call_id"):
        raise _bad_request(f"{where}.tool_call_id is required")
    content = msg.get("content")
    result: Block = {"type": "tool_result", "tool_use_id": msg["tool_call_id"]}
    result["content"] = content if isinstance(content, str) else _blocks(content, where)
    return result


def _messages(messages: list[Any]) -> tuple[list[Block], list[Block]]:
    """OpenAI messages -> (system text blocks, alternating Anthropic messages)."""
    system: list[Block] = []
    out: list[Block] = []
    for i, msg in enumerate(messages):
        where = f"messages[{i}]"
        role = msg.get("role") if isinstance(msg, dict) else None
        if role in ("system", "developer"):  # Anthropic has one system prompt, on top
            system += _blocks(msg.get("content"), where)
            if any(b["type"] != "text" for b in system):
                raise _bad_request(f"{where}.content: a system prompt can only be text")
            continue
        if role == "user":
            blocks = _blocks(msg.get("content"), where)
        elif role == "assistant":
            blocks = _assistant(msg, where)
        elif role == "tool":
            role, blocks = "user", [_tool_result(msg, where)]
        else:
            raise _bad_request(f"{where}.role: {role!r} is not supported")
        if not blocks:
            continue
        # Anthropic wants strict alternation; consecutive tool results become one user turn
        if out and out[-1]["role"] == role:
            out[-1]["content"] += blocks
        else:
            out.append({"role": role, "content": blocks})
    return system, out


def _tool(tool: dict[str, Any]) -> Block:
    if tool.get("type") != "function":
        return tool  # an Anthropic server tool (web_search_..., code_execution_...) as given
    fn = tool.get("function") or {}
    schema = dict(fn.get("parameters") or {"properties": {}})
    schema.setdefault("type", "object")
    out: Block = {"name": fn.get("name"), "input_schema": schema}
    if fn.get("description"):
        out["description"] = fn["description"]
    return out


def _tool_choice(choice: Any) -> Block | None:
    if choice is None:
        return None
    if isinstance(choice, str) and choice in ("auto", "none", "required"):
        return {"type": "any" if choice == "required" else choice}
    if isinstance(choice, dict) and (choice.get("function") or {}).get("name"):
        return {"type": "tool", "name": choice["function"]["name"]}
    raise _bad_request("tool_choice: expected auto, none, required or a function")


def _thinking_budget(body: dict[str, Any], max_tokens: int) -> int | None:
    reasoning = body.get("reasoning")
    if not isinstance(reasoning, dict):
        effort = body.get("reasoning_effort") or ("medium" if body.get("include_reasoning")
                                                  else None)
        reasoning = {"effort": effort} if effort else None
    if reasoning is None or reasoning.get("enabled") is False or reasoning.get("effort") == "none":
        return None
    if reasoning.get("max_tokens"):
        return max(MIN_THINKING_BUDGET, int(reasoning["max_tokens"]))
    share = _EFFORT_SHARE.get(str(reasoning.get("effort") or "medium"), 0.5)
    return max(MIN_THINKING_BUDGET, int(max_tokens * share))


def _schema_tool(fmt: dict[str, Any]) -> Block:
    spec = fmt.get("json_schema") or {}
    name = re.sub(r"[^a-zA-Z0-9_-]", "_", str(spec.get("name") or "response"))
    description = spec.get("description") or "Give the final answer by calling this tool."
    schema = dict(spec.get("schema") or {"properties": {}})
    schema.setdefault("type", "object")
    return {"name": (JSON_TOOL_PREFIX + name)[:64], "description": description,
            "input_schema": schema}


def build_body(upstream_model: str, body: dict[str, Any], stream: bool) -> dict[str, Any]:
    system, messages = _messages(body.get("messages") or [])
    max_tokens = next((body[k] for k in ("max_completion_tokens", "max_tokens")
                       if body.get(k) is not None), DEFAULT_MAX_TOKENS)
    out: dict[str, Any] = {"model": upstream_model, "max_tokens": int(max_tokens),
                           "messages": messages}
    for src, (dst, transform) in _PARAMS.items():
        if body.get(src) is not None:
            out[dst] = transform(body[src])
    if body.get("user"):
        out["metadata"] = {"user_id": str(body["user"])}

    tools = [_tool(t) for t in body.get("tools") or []]
    choice = _tool_choice(body.get("tool_choice")) if tools else None
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        answer = _schema_tool(fmt)
        if choice is None or choice["type"] in ("auto", "none"):
            # the caller's tools stay callable unless it said none; any answer must be a tool call
            callable_tools = bool(tools) and (choice is None or choice["type"] == "auto")
            choice = {"type": "any"} if callable_tools else {"type": "tool", "name": answer["name"]}
        tools.append(answer)
    elif fmt.get("type") == "json_object":
        system.append({"type": "text", "text": _JSON_OBJECT_HINT})

    budget = _thinking_budget(body, out["max_tokens"])
    if budget is not None:
        out["thinking"] = {"type": "enabled", "budget_tokens": budget}
        if out["max_tokens"] <= budget:
            out["max_tokens"] += budget  # max_tokens counts thinking; keep the answer's room
        # Thinking refuses changed temperature/top_k, top_p below 0.95 and forced tool use.
        out.pop("temperature", None)
        out.pop("top_k", None)
        if out.get("top_p", 1.0) < 0.95:
            out.pop("top_p")
        if choice is not None and choice["type"] in ("any", "tool"):
            if fmt.get("type") == "json_schema":
                system.append({"type": "text", "text": "Answer by calling the tool "
                               f"{tools[-1]['name']}; its input is your final answer."})
            choice = {"type": "auto"}
    if tools:
        out["tools"] = tools
        if body.get("parallel_tool_calls") is False:
            choice = choice or {"type": "auto"}
            if choice["type"] != "none":
                choice["disable_parallel_tool_use"] = True
        if choice is not None:
            out["tool_choice"] = choice
    if system:
        cached = any("cache_control" in b for b in system)
        out["system"] = system if cached else "\n\n".join(b["text"] for b in system)
    if stream:
        out["stream"] = True
    return out


# -- response ------------------------------------------------------------------------------


def _usage(usage: dict[str, Any]) -> dict[str, Any]:
    read = int(usage.get("cache_read_input_tokens") or 0)
    write = int(usage.get("cache_creation_input_tokens") or 0)
    prompt = int(usage.get("input_tokens") or 0) + read + write
    completion = int(usage.get("output_tokens") or 0)
    thinking = (usage.get("output_tokens_details") or {}).get("thinking_tokens")
    return {
        "prompt_tokens": prompt, "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": read, "cache_write_tokens": write},
        "completion_tokens_details": {"reasoning_tokens": int(thinking or 0)},
    }


def _finish(stop_reason: str | None, json_answer_only: bool) -> str:
    if stop_reason == "tool_use" and json_answer_only:
        return "stop"  # the forced answer tool is the answer, not a call for the client to run
    return _FINISH.get(stop_reason or "", "stop")


def _event_error(payload: dict[str, Any]) -> UpstreamError:
    err = payload.get("error")
    err = err if isinstance(err, dict) else {}
    kind = str(err.get("type") or "api_error")
    message = str(err.get("message") or kind)
    return classify(_ERROR_STATUS.get(kind, 500), message, payload, {}, kind)


def _detail_text(text: str, n: int, signature: str | None = None) -> Block:
    detail: Block = {"type": "reasoning.text", "text": text, "format": REASONING_FORMAT,
                     "index": n}
    if signature:
        detail["signature"] = signature
    return detail


def _detail_encrypted(data: str, n: int) -> Block:
    return {"type": "reasoning.encrypted", "data": data, "format": REASONING_FORMAT, "index": n}


def parse_message(msg: Any) -> dict[str, Any]:
    if not isinstance(msg, dict):
        raise _bad_gateway("Anthropic response is not a JSON object", msg)
    if msg.get("type") == "error":
        raise _event_error(msg)
    if not isinstance(msg.get("content"), list):
        raise _bad_gateway("Anthropic response has no content", msg)
    texts: list[str] = []
    thoughts: list[str] = []
    details: list[Block] = []
    calls: list[Block] = []
    answer: str | None = None  # the json_schema answer tool's input
    for block in msg["content"]:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(block.get("text") or "")
        elif kind == "thinking":
            thoughts.append(block.get("thinking") or "")
            details.append(_detail_text(thoughts[-1], len(details), block.get("signature")))
        elif kind == "redacted_thinking":
            details.append(_detail_encrypted(block.get("data") or "", len(details)))
        elif kind == "tool_use":
            args = orjson.dumps(block.get("input") or {}).decode()
            if str(block.get("name")).startswith(JSON_TOOL_PREFIX):
                answer = args
            else:
                calls.append({"id": block.get("id"), "type": "function",
                              "function": {"name": block.get("name"), "arguments": args}})
        # server tools (web search, code execution) ran upstream: nothing for the client to do
    if answer is not None:
        texts = [answer]  # a json_schema answer is the JSON alone, without Claude's preamble
    message: dict[str, Any] = {"role": "assistant",
                               "content": "".join(texts) if texts or not calls else None}
    if thoughts:
        message["reasoning"] = "".join(thoughts)
    if details:
        message["reasoning_details"] = details
    if calls:
        message["tool_calls"] = calls
    stop = msg.get("stop_reason")
    finish = _finish(stop, answer is not None and not calls)
    choice = {"index": 0, "message": message, "finish_reason": finish, "native_finish_reason": stop}
    return {"id": msg.get("id"), "object": "chat.completion", "created": int(time.time()),
            "model": msg.get("model"), "system_fingerprint": None, "choices": [choice],
            "usage": _usage(msg.get("usage") or {})}


class AnthropicStream:
    """Sans-I/O: Anthropic's SSE events -> OpenAI chat.completion.chunk dicts."""

    def __init__(self) -> None:
        self._sse = SSEDecoder()
        self._id = ""
        self._model = ""
        self._created = int(time.time())
        self._usage: dict[str, Any] = {}
        self._blocks: dict[int, tuple[str, int]] = {}  # Anthropic index -> (kind, OpenAI index)
        self._tools = 0  # OpenAI tool-call indexes count tool calls only
        self._thoughts = 0
        self._answered = False
        self._finished = False
        self._done = False
        self._pending: UpstreamError | None = None
        self._malformed = MalformedRun()

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        return self._run(self._sse.feed(data))

    def close(self) -> list[dict[str, Any]]:
        out = self._run(self._sse.close())
        if self._pending is not None:
            raise self._pending
        if not self._done:
            if not self._finished:
                raise _bad_gateway("Anthropic stream ended before the message was complete")
            out.append(self._usage_chunk())  # message_stop lost; the usage is already known
            self._done = True
        return out

    def _run(self, events: list[SSEEvent]) -> list[dict[str, Any]]:
        if self._pending is not None:
            raise self._pending
        out: list[dict[str, Any]] = []
        for event in events:
            try:
                self._event(event, out)
            except UpstreamError as exc:
                if not out:
                    raise
                self._pending = exc  # hand over the chunks before it first; raise on next call
                break
        return out

    def _chunk(self, delta: Block, finish: str | None = None, native: str | None = None) -> Block:
        choice = {"index": 0, "delta": delta, "finish_reason": finish,
                  "native_finish_reason": native}
        return {"id": self._id, "object": "chat.completion.chunk", "created": self._created,
                "model": self._model, "choices": [choice]}

    def _usage_chunk(self) -> Block:
        return {"id": self._id, "object": "chat.completion.chunk", "created": self._created,
                "model": self._model, "choices": [], "usage": _usage(self._usage)}

    def _take_usage(self, usage: Any) -> None:
        # message_delta counts are cumulative: they replace, and absent ones keep the start's
        if isinstance(usage, dict):
            self._usage.update({k: v for k, v in usage.items() if v is not None})

    def _event(self, event: SSEEvent, out: list[Block]) -> None:
        if not event.data or self._done:
            return
        try:
            payload = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            if self._malformed.skip(event.data):
                return
            raise _bad_gateway("Anthropic sent an unparseable stream event", event.data) from None
        self._malformed.ok()
        kind = payload.get("type") if isinstance(payload, dict) else None
        if kind == "message_start":
            message = payload.get("message") or {}
            self._id, self._model = message.get("id") or "", message.get("model") or ""
            self._take_usage(message.get("usage"))
            out.append(self._chunk({"role": "assistant", "content": ""}))
        elif kind == "content_block_start":
            self._start(int(payload.get("index") or 0), payload.get("content_block") or {}, out)
        elif kind == "content_block_delta":
            self._delta(int(payload.get("index") or 0), payload.get("delta") or {}, out)
        elif kind == "message_delta":
            self._take_usage(payload.get("usage"))
            stop = (payload.get("delta") or {}).get("stop_reason")
            finish = _finish(stop, self._answered and not self._tools)
            out.append(self._chunk({}, finish, stop))
            self._finished = True
        elif kind == "message_stop":
            out.append(self._usage_chunk())
            self._done = True
        elif kind == "error":
            raise _event_error(payload)
        # ping, content_block_stop and unknown events carry nothing for the client

    def _start(self, index: int, block: Block, out: list[Block]) -> None:
        kind = block.get("type")
        if kind == "text":
            self._blocks[index] = ("text", 0)
            if block.get("text"):
                out.append(self._chunk({"content": block["text"]}))
        elif kind == "thinking":
            self._blocks[index] = ("thinking", self._thoughts)
            self._thoughts += 1
        elif kind == "redacted_thinking":
            detail = _detail_encrypted(block.get("data") or "", self._thoughts)
            self._thoughts += 1
            out.append(self._chunk({"reasoning_details": [detail]}))
        elif kind == "tool_use" and str(block.get("name")).startswith(JSON_TOOL_PREFIX):
            self._blocks[index] = ("answer", 0)
            self._answered = True
        elif kind == "tool_use":
            self._blocks[index] = ("tool", self._tools)
            call = {"index": self._tools, "id": block.get("id"), "type": "function",
                    "function": {"name": block.get("name"), "arguments": ""}}
            self._tools += 1
            out.append(self._chunk({"tool_calls": [call]}))
        # server tool blocks and their results stay upstream

    def _delta(self, index: int, delta: Block, out: list[Block]) -> None:
        kind, n = self._blocks.get(index, ("ignored", 0))
        dtype = delta.get("type")
        if dtype == "text_delta" and delta.get("text"):
            out.append(self._chunk({"content": delta["text"]}))
        elif dtype == "thinking_delta" and delta.get("thinking"):
            text = delta["thinking"]
            out.append(self._chunk({"reasoning": text,
                                    "reasoning_details": [_detail_text(text, n)]}))
        elif dtype == "signature_delta" and delta.get("signature"):
            detail = _detail_text("", n, delta["signature"])
            out.append(self._chunk({"reasoning_details": [detail]}))
        elif dtype == "input_json_delta" and delta.get("partial_json"):
            if kind == "tool":
                call = {"index": n, "function": {"arguments": delta["partial_json"]}}
                out.append(self._chunk({"tool_calls": [call]}))
            elif kind == "answer":
                out.append(self._chunk({"content": delta["partial_json"]}))
        # citations_delta: citations are not carried into OpenAI chunks


def output_cap(body: dict[str, Any], default: int) -> int:
    """The `max_tokens` build_body sends, thinking budget included."""
    max_tokens = requested_max_tokens(body) or DEFAULT_MAX_TOKENS
    budget = _thinking_budget(body, max_tokens)
    if budget is not None and max_tokens <= budget:
        max_tokens += budget
    return max_tokens


class AnthropicDialect:
    name = "anthropic"
    supported_parameters = SUPPORTED

    def output_cap(self, body: dict[str, Any], default: int) -> int:
        return output_cap(body, default)

    def build_request(
        self, provider: ProviderInfo, upstream_model: str, body: dict[str, Any], stream: bool
    ) -> UpstreamRequest:
        headers = {"content-type": "application/json", "anthropic-version": API_VERSION}
        if provider.api_key:
            headers["x-api-key"] = provider.api_key
        if upstream_model.endswith(LONG_CONTEXT_SUFFIX):  # the catalog's `:1m` entries
            upstream_model = upstream_model.removesuffix(LONG_CONTEXT_SUFFIX)
            headers["anthropic-beta"] = LONG_CONTEXT_BETA
        url = provider.base_url.rstrip("/") + "/v1/messages"
        return UpstreamRequest(url, headers, orjson.dumps(build_body(upstream_model, body, stream)))

    def parse_response(self, data: bytes) -> dict[str, Any]:
        try:
            msg = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise _bad_gateway("Anthropic returned an unparseable response",
                               data[:2000].decode("utf-8", "replace")) from None
        return parse_message(msg)

    def stream_translator(self) -> AnthropicStream:
        return AnthropicStream()

    def parse_error(self, status: int, data: bytes, headers: dict[str, str]) -> UpstreamError:
        raw = parse_body(data)
        message, kind = f"Anthropic returned HTTP {status}", None
        err = raw.get("error") if isinstance(raw, dict) else None
        if isinstance(err, dict):
            message = str(err.get("message") or message)
            kind = str(err.get("type") or "") or None
        elif isinstance(raw, str) and raw.strip():
            message = raw.strip()[:500]
        return classify(status, message, raw, headers, kind)
