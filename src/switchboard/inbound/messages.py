"""Anthropic Messages API <-> Chat Completions, free of I/O.

`to_chat` turns a Messages request into the chat body the chat service runs (system
prompt, images, documents, tool use and results, thinking with its signatures and
cache_control all carried over, so an Anthropic upstream gets back what the client
sent); `from_completion` turns the chat.completion into a Message; `MessagesStream`
turns chat chunks into Anthropic's named SSE events; `error_body` renders a gateway
error in Anthropic's error shape.
"""

from __future__ import annotations

from typing import Any

import orjson

from switchboard.errors import GatewayError, bad_request

# what an Anthropic upstream's reasoning_details are tagged with (dialects/anthropic.py)
THINKING_FORMAT = "anthropic-claude-v1"
_PASSED = ("model", "models", "preset", "provider", "route", "plugins", "transforms", "stream",
           "temperature", "top_p", "top_k", "session_id", "trace", "debug")
_STOP_REASONS = frozenset({"end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn",
                           "refusal"})
_FROM_FINISH = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use",
                "content_filter": "refusal"}
_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
                403: "permission_error", 404: "not_found_error", 408: "timeout_error",
                413: "invalid_request_error", 429: "rate_limit_error", 503: "overloaded_error",
                529: "overloaded_error"}


# -- request ---------------------------------------------------------------------------


def _with_cache(part: dict[str, Any], block: dict[str, Any]) -> dict[str, Any]:
    if block.get("cache_control"):
        part["cache_control"] = block["cache_control"]
    return part


def _source_url(source: Any, where: str) -> str:
    if not isinstance(source, dict):
        raise bad_request(f"{where}.source must be an object", where)
    if source.get("type") == "base64":
        return f"data:{source.get('media_type') or 'application/octet-stream'};base64," + str(
            source.get("data") or "")
    if source.get("type") == "url" and isinstance(source.get("url"), str):
        return str(source["url"])
    raise bad_request(f"{where}.source.type must be base64 or url", where)


def _user_part(block: dict[str, Any], where: str) -> dict[str, Any]:
    kind = block.get("type")
    if kind == "text":
        return _with_cache({"type": "text", "text": str(block.get("text") or "")}, block)
    if kind == "image":
        url = _source_url(block.get("source"), where)
        return _with_cache({"type": "image_url", "image_url": {"url": url}}, block)
    if kind == "document":
        source = block.get("source") or {}
        if isinstance(source, dict) and source.get("type") == "text":
            return _with_cache({"type": "text", "text": str(source.get("data") or "")}, block)
        data = _source_url(source, where)
        name = str(block.get("title") or "document.pdf")
        return _with_cache({"type": "file", "file": {"filename": name, "file_data": data}},
                           block)
    raise bad_request(f"{where}.type {kind!r} is not supported", where)


def _result_text(content: Any) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list):
        return "".join(str(b.get("text") or "") for b in content
                       if isinstance(b, dict) and b.get("type") == "text")
    return str(content)


def _user(content: Any, where: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    if not isinstance(content, list):
        raise bad_request(f"{where}.content must be a string or a list of blocks", where)
    out: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for j, block in enumerate(content):
        w = f"{where}.content[{j}]"
        if not isinstance(block, dict):
            raise bad_request(f"{w} must be an object", w)
        if block.get("type") == "tool_result":
            if not block.get("tool_use_id"):
                raise bad_request(f"{w}.tool_use_id is required", w)
            text = _result_text(block.get("content"))
            if block.get("is_error"):
                text = f"Error: {text}"
            out.append({"role": "tool", "tool_call_id": str(block["tool_use_id"]),
                        "content": text})
        else:
            parts.append(_user_part(block, w))
    if parts:  # results answer the previous turn's calls, so they come first
        out.append({"role": "user", "content": parts})
    return out


def _assistant(content: Any, where: str) -> dict[str, Any]:
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    if not isinstance(content, list):
        raise bad_request(f"{where}.content must be a string or a list of blocks", where)
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    details: list[dict[str, Any]] = []
    for j, block in enumerate(content):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(str(block.get("text") or ""))
        elif kind == "tool_use":
            calls.append({"id": str(block.get("id") or ""), "type": "function", "function": {
                "name": str(block.get("name") or ""),
                "arguments": orjson.dumps(block.get("input") or {}).decode()}})
        elif kind == "thinking":
            detail = {"type": "reasoning.text", "text": str(block.get("thinking") or ""),
                      "format": THINKING_FORMAT, "index": len(details)}
            if block.get("signature"):
                detail["signature"] = block["signature"]
            details.append(detail)
        elif kind == "redacted_thinking":
            details.append({"type": "reasoning.encrypted", "data": block.get("data") or "",
                            "format": THINKING_FORMAT, "index": len(details)})
        else:
            raise bad_request(f"{where}.content[{j}].type {kind!r} is not supported", where)
    msg: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
    if calls:
        msg["tool_calls"] = calls
    if details:
        msg["reasoning_details"] = details
    return msg


def _system(system: Any) -> dict[str, Any] | None:
    if system is None or system == "":
        return None
    if isinstance(system, str):
        return {"role": "system", "content": system}
    if not isinstance(system, list):
        raise bad_request("system must be a string or a list of text blocks", "system")
    parts = [_with_cache({"type": "text", "text": str(b.get("text") or "")}, b)
             for b in system if isinstance(b, dict) and b.get("type") == "text"]
    if any("cache_control" in p for p in parts):
        return {"role": "system", "content": parts}
    return {"role": "system", "content": "\n\n".join(p["text"] for p in parts)}


def _tools(tools: Any) -> list[dict[str, Any]]:
    if not isinstance(tools, list):
        raise bad_request("tools must be a list", "tools")
    out = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict) or not tool.get("name"):
            raise bad_request(f"tools[{i}].name is required", "tools")
        if tool.get("type") not in (None, "custom"):
            raise bad_request(f"tools[{i}].type {tool.get('type')!r}: server tools are not "
                              "supported", "tools")
        fn: dict[str, Any] = {"name": tool["name"],
                              "parameters": tool.get("input_schema") or {"type": "object"}}
        if tool.get("description"):
            fn["description"] = tool["description"]
        out.append(_with_cache({"type": "function", "function": fn}, tool))
    return out


def _tool_choice(choice: Any, chat: dict[str, Any]) -> None:
    if not isinstance(choice, dict):
        raise bad_request("tool_choice must be an object", "tool_choice")
    kind = choice.get("type")
    if kind == "auto":
        chat["tool_choice"] = "auto"
    elif kind == "any":
        chat["tool_choice"] = "required"
    elif kind == "none":
        chat["tool_choice"] = "none"
    elif kind == "tool" and choice.get("name"):
        chat["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
    else:
        raise bad_request("tool_choice.type must be auto, any, tool (with name) or none",
                          "tool_choice")
    if choice.get("disable_parallel_tool_use"):
        chat["parallel_tool_calls"] = False


def to_chat(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_request("request body must be a JSON object")
    raw = body.get("messages")
    if not isinstance(raw, list) or not raw:
        raise bad_request("messages must be a non-empty list", "messages")
    chat: dict[str, Any] = {k: body[k] for k in _PASSED if k in body}
    messages: list[dict[str, Any]] = []
    system = _system(body.get("system"))
    if system is not None:
        messages.append(system)
    for i, msg in enumerate(raw):
        where = f"messages[{i}]"
        role = msg.get("role") if isinstance(msg, dict) else None
        if role == "user":
            messages += _user(msg.get("content"), where)
        elif role == "assistant":
            messages.append(_assistant(msg.get("content"), where))
        else:
            raise bad_request(f"{where}.role must be user or assistant", where)
    chat["messages"] = messages
    max_tokens = body.get("max_tokens")
    if max_tokens is not None:
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            raise bad_request("max_tokens must be a positive integer", "max_tokens")
        chat["max_tokens"] = max_tokens
    if body.get("stop_sequences"):
        chat["stop"] = body["stop_sequences"]
    if body.get("tools"):
        chat["tools"] = _tools(body["tools"])
    if body.get("tool_choice") is not None:
        _tool_choice(body["tool_choice"], chat)
    user = (body.get("metadata") or {}).get("user_id") if isinstance(
        body.get("metadata"), dict) else None
    if user:
        chat["user"] = str(user)
    thinking = body.get("thinking")
    if isinstance(thinking, dict):
        if thinking.get("type") == "enabled":
            budget = thinking.get("budget_tokens")
            chat["reasoning"] = {"max_tokens": budget} if isinstance(budget, int) else {
                "enabled": True}
        elif thinking.get("type") == "adaptive":
            chat["reasoning"] = {"enabled": True}
    fmt = body.get("output_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        chat["response_format"] = {"type": "json_schema", "json_schema": {
            "name": "output", "schema": fmt.get("schema") or {}, "strict": True}}
    if body.get("cache_control"):  # top-level automatic caching: OpenRouter's own field
        chat["cache_control"] = body["cache_control"]
    return chat


# -- response --------------------------------------------------------------------------


def stop_reason(finish: str | None, native: str | None) -> str | None:
    if native in _STOP_REASONS:
        return native
    if finish is None:
        return None
    return _FROM_FINISH.get(finish, "end_turn")


def usage_of(usage: dict[str, Any] | None) -> dict[str, Any]:
    """Chat usage (prompt counts cache reads and writes) in Anthropic's terms (it does not)."""
    usage = usage or {}
    pdet = usage.get("prompt_tokens_details") or {}
    read = int(pdet.get("cached_tokens") or 0)
    write = int(pdet.get("cache_write_tokens") or 0)
    prompt = int(usage.get("prompt_tokens") or 0)
    cdet = usage.get("completion_tokens_details") or {}
    out: dict[str, Any] = {
        "input_tokens": max(0, prompt - read - write),
        "output_tokens": int(usage.get("completion_tokens") or 0),
        "cache_creation_input_tokens": write, "cache_read_input_tokens": read,
        "output_tokens_details": {"thinking_tokens": int(cdet.get("reasoning_tokens") or 0)},
        "cache_creation": None, "inference_geo": None, "server_tool_use": None,
        "service_tier": "standard",
    }
    if "cost" in usage:
        out["cost"] = usage["cost"]
        out["is_byok"] = bool(usage.get("is_byok"))
        costs = usage.get("cost_details") or {}
        out["cost_details"] = {
            "upstream_inference_cost": costs.get("upstream_inference_cost", 0),
            "upstream_inference_prompt_cost": costs.get("upstream_inference_prompt_cost", 0),
            "upstream_inference_completions_cost": costs.get(
                "upstream_inference_completions_cost", 0)}
    return out


def _thinking_blocks(msg: dict[str, Any]) -> list[dict[str, Any]]:
    details = msg.get("reasoning_details")
    blocks: list[dict[str, Any]] = []
    if isinstance(details, list) and details:
        merged: dict[Any, dict[str, Any]] = {}
        for n, d in enumerate(details):
            if not isinstance(d, dict):
                continue
            key = d.get("index", f"#{n}")
            if d.get("type") == "reasoning.encrypted":
                merged[key] = {"type": "redacted_thinking", "data": d.get("data") or ""}
            elif d.get("type") in ("reasoning.text", "reasoning.summary"):
                block = merged.setdefault(key, {"type": "thinking", "thinking": "",
                                                "signature": ""})
                block["thinking"] += d.get("text") or d.get("summary") or ""
                block["signature"] = d.get("signature") or block["signature"]
        blocks = list(merged.values())
    if not blocks and msg.get("reasoning"):
        blocks = [{"type": "thinking", "thinking": str(msg["reasoning"]), "signature": ""}]
    return blocks


def _input(arguments: Any) -> Any:
    try:
        value = orjson.loads(arguments or "{}")
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def from_completion(result: dict[str, Any]) -> dict[str, Any]:
    choice = (result.get("choices") or [{}])[0]
    msg = choice.get("message") or {}
    content = _thinking_blocks(msg)
    if msg.get("content"):
        content.append({"type": "text", "text": str(msg["content"]), "citations": None})
    for call in msg.get("tool_calls") or ():
        fn = call.get("function") or {}
        content.append({"type": "tool_use", "id": str(call.get("id") or ""),
                        "name": str(fn.get("name") or ""), "input": _input(fn.get("arguments")),
                        "caller": {"type": "direct"}})
    return {
        "id": result.get("id"), "type": "message", "role": "assistant",
        "model": result.get("model"), "content": content,
        "stop_reason": stop_reason(choice.get("finish_reason"),
                                   choice.get("native_finish_reason")),
        "stop_sequence": None, "stop_details": None, "container": None,
        "usage": usage_of(result.get("usage")), "provider": result.get("provider"),
    }


def error_body(err: GatewayError) -> dict[str, Any]:
    kind = _ERROR_TYPES.get(err.status, "api_error")
    body: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": err.message},
                            "request_id": None}
    meta = err.body()["error"].get("metadata")
    if meta:  # the gateway's details (field, provider, raw) as OpenRouter adds them
        body["metadata"] = meta
    return body


# -- stream ----------------------------------------------------------------------------


class MessagesStream:
    """Chat chunks in, Anthropic's (event name, data) pairs out (sans-I/O)."""

    def __init__(self, msg_id: str, model: str) -> None:
        self.id, self.model = msg_id, model
        self.index = -1  # index of the open content block
        self.open: str | None = None  # "text" | "thinking" | "tool"
        self.thinking_key: Any = None  # reasoning_details index of the open thinking block
        self.calls: dict[int, int] = {}  # chat tool-call index -> content block index
        self.finish: str | None = None
        self.native: str | None = None
        self.usage: dict[str, Any] | None = None
        self.done = False

    def start(self) -> list[tuple[str, dict[str, Any]]]:
        message: dict[str, Any] = {
            "id": self.id, "type": "message", "role": "assistant", "model": self.model,
            "content": [], "stop_reason": None, "stop_sequence": None, "stop_details": None,
            "container": None, "usage": usage_of(None)}
        return [("message_start", {"type": "message_start", "message": message})]

    def _stop(self) -> list[tuple[str, dict[str, Any]]]:
        if self.open is None:
            return []
        self.open = None
        return [("content_block_stop", {"type": "content_block_stop", "index": self.index})]

    def _begin(self, kind: str, block: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        events = self._stop()
        self.index += 1
        self.open = kind
        events.append(("content_block_start", {"type": "content_block_start",
                                               "index": self.index, "content_block": block}))
        return events

    def _delta(self, delta: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return ("content_block_delta", {"type": "content_block_delta", "index": self.index,
                                        "delta": delta})

    def _thinking(self, text: str, signature: str | None,
                  key: Any) -> list[tuple[str, dict[str, Any]]]:
        events: list[tuple[str, dict[str, Any]]] = []
        if self.open != "thinking" or key != self.thinking_key:
            events += self._begin("thinking", {"type": "thinking", "thinking": "",
                                               "signature": ""})
            self.thinking_key = key
        if text:
            events.append(self._delta({"type": "thinking_delta", "thinking": text}))
        if signature:
            events.append(self._delta({"type": "signature_delta", "signature": signature}))
        return events

    def _reasoning(self, delta: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        details = delta.get("reasoning_details")
        events: list[tuple[str, dict[str, Any]]] = []
        if isinstance(details, list) and details:
            for d in details:
                if not isinstance(d, dict):
                    continue
                if d.get("type") == "reasoning.encrypted":
                    events += self._begin("redacted", {"type": "redacted_thinking",
                                                       "data": d.get("data") or ""})
                    events += self._stop()
                elif d.get("type") in ("reasoning.text", "reasoning.summary"):
                    key = d.get("index", self.thinking_key)
                    events += self._thinking(d.get("text") or d.get("summary") or "",
                                             d.get("signature"), key)
            return events
        if delta.get("reasoning"):
            return self._thinking(str(delta["reasoning"]), None, self.thinking_key)
        return events

    def _call(self, call: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        n = int(call.get("index") or 0)
        fn = call.get("function") or {}
        events: list[tuple[str, dict[str, Any]]] = []
        if n not in self.calls:
            events += self._begin("tool", {"type": "tool_use", "id": str(call.get("id") or ""),
                                           "name": str(fn.get("name") or ""), "input": {},
                                           "caller": {"type": "direct"}})
            self.calls[n] = self.index
        if fn.get("arguments") and self.calls[n] == self.index:
            events.append(self._delta({"type": "input_json_delta",
                                       "partial_json": fn["arguments"]}))
        return events

    def feed(self, chunk: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        if self.done:
            return []
        if chunk.get("error"):
            self.done = True
            err = chunk["error"]
            status = err.get("code") if isinstance(err.get("code"), int) else 502
            return [("error", error_body(GatewayError(status, str(err.get("message")))))]
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        events: list[tuple[str, dict[str, Any]]] = []
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            events += self._reasoning(delta)
            if delta.get("content"):
                if self.open != "text":
                    events += self._begin("text", {"type": "text", "text": "",
                                                   "citations": None})
                events.append(self._delta({"type": "text_delta", "text": delta["content"]}))
            for call in delta.get("tool_calls") or ():
                events += self._call(call)
            if choice.get("finish_reason"):
                self.finish = choice["finish_reason"]
                self.native = choice.get("native_finish_reason")
        return events

    def close(self) -> list[tuple[str, dict[str, Any]]]:
        if self.done:
            return []
        self.done = True
        usage = usage_of(self.usage)
        return [*self._stop(),
                ("message_delta", {"type": "message_delta",
                                   "delta": {"stop_reason": stop_reason(self.finish or "stop",
                                                                        self.native),
                                             "stop_sequence": None, "stop_details": None,
                                             "container": None},
                                   "usage": usage}),
                ("message_stop", {"type": "message_stop"})]
