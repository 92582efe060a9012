"""OpenAI Responses API <-> Chat Completions, free of I/O.

`to_chat` turns a Responses request into the chat body the chat service runs;
`from_completion` turns the chat.completion it answers into a Response object; and
`ResponsesStream` turns the chat.completion.chunk stream into the typed Responses
events (`response.created` … `response.completed`), item by item, as OpenRouter sends
them. Switchboard keeps no conversation state, so `previous_response_id` and
`store: true` are refused instead of silently ignored.
"""

from __future__ import annotations

import base64
import secrets
import time
from typing import Any

import orjson

from switchboard.errors import bad_request

# Responses fields with the same name and meaning in a chat request
_SAME = ("model", "models", "preset", "provider", "route", "plugins", "transforms", "usage",
         "stream", "temperature", "top_p", "top_k", "frequency_penalty", "presence_penalty",
         "parallel_tool_calls", "user", "seed", "stop", "session_id", "trace", "debug",
         "prompt_cache_key", "min_p", "top_a", "repetition_penalty", "logit_bias")
# accepted and not forwarded: they describe storage or server-side behaviour we do not have
_DROPPED = ("include", "truncation", "store", "metadata", "service_tier", "background",
            "max_tool_calls", "safety_identifier", "prompt_cache_options", "modalities",
            "image_config", "stop_server_tools_when", "cache_control", "stream_options",
            "previous_response_id", "conversation", "prompt")
_WEB_TOOLS = frozenset({"web_search", "web_search_preview", "web_search_2025_08_26",
                        "web_search_preview_2025_03_11", "openrouter:web_search"})


def new_item_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


# -- request ---------------------------------------------------------------------------


def _text_of(content: Any, where: str) -> str:
    """Text of a tool output or an assistant message given as a string or a list of parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text") or p.get("refusal") or "") for p in content
                       if isinstance(p, dict))
    raise bad_request(f"{where} must be a string or a list of content parts", where)


def _part(part: Any, where: str) -> dict[str, Any]:
    if not isinstance(part, dict):
        raise bad_request(f"{where} must be an object", where)
    kind = part.get("type")
    if kind in ("input_text", "output_text", "text", "summary_text", "reasoning_text"):
        return {"type": "text", "text": str(part.get("text") or "")}
    if kind == "refusal":
        return {"type": "text", "text": str(part.get("refusal") or "")}
    if kind == "input_image":
        url = part.get("image_url")
        if not isinstance(url, str) or not url:
            raise bad_request(f"{where}.image_url must be a URL or data URI (file_id needs "
                              "stored files, which Switchboard does not keep)", where)
        image: dict[str, Any] = {"url": url}
        if part.get("detail"):
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    if kind == "input_file":
        data = part.get("file_data") or part.get("file_url")
        if not isinstance(data, str):
            raise bad_request(f"{where}.file_data must be a data URI or URL", where)
        return {"type": "file", "file": {"filename": part.get("filename") or "file",
                                         "file_data": data}}
    raise bad_request(f"{where}.type {kind!r} is not supported", where)


def _message(item: dict[str, Any], where: str) -> dict[str, Any]:
    role = item.get("role")
    if role not in ("user", "assistant", "system", "developer"):
        raise bad_request(f"{where}.role must be user, assistant, system or developer", where)
    role = "system" if role == "developer" else role
    content = item.get("content")
    if role == "assistant":
        return {"role": "assistant", "content": _text_of(content, f"{where}.content")}
    if isinstance(content, str):
        return {"role": role, "content": content}
    if not isinstance(content, list):
        raise bad_request(f"{where}.content must be a string or a list of parts", where)
    parts = [_part(p, f"{where}.content[{i}]") for i, p in enumerate(content)]
    if role == "system":  # system prompts are text only in every dialect
        return {"role": "system", "content": "".join(p.get("text", "") for p in parts)}
    return {"role": role, "content": parts}


def _details(item: dict[str, Any]) -> list[Any]:
    """The provider reasoning (Anthropic's signed thinking) a reasoning item carries back."""
    raw = item.get("encrypted_content")
    if not isinstance(raw, str) or not raw:
        return []
    try:
        details = orjson.loads(base64.b64decode(raw, validate=True))
    except (ValueError, orjson.JSONDecodeError):
        return []  # another gateway's opaque reasoning: nothing we can replay
    return details if isinstance(details, list) else []


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    pending: list[Any] = []  # reasoning details for the next assistant turn
    instructions = body.get("instructions")
    if instructions is not None:
        if not isinstance(instructions, str):
            raise bad_request("instructions must be a string", "instructions")
        out.append({"role": "system", "content": instructions})
    raw = body.get("input")
    if isinstance(raw, str):
        out.append({"role": "user", "content": raw})
        return out
    if not isinstance(raw, list) or not raw:
        raise bad_request("input must be a string or a non-empty list of items", "input")
    for i, item in enumerate(raw):
        where = f"input[{i}]"
        if not isinstance(item, dict):
            raise bad_request(f"{where} must be an object", where)
        kind = item.get("type") or ("message" if "role" in item else None)
        if kind == "message":
            out.append(_message(item, where))
            if pending and out[-1]["role"] == "assistant":
                out[-1]["reasoning_details"], pending = pending, []
        elif kind == "function_call":
            call = {"id": str(item.get("call_id") or item.get("id") or ""), "type": "function",
                    "function": {"name": str(item.get("name") or ""),
                                 "arguments": str(item.get("arguments") or "{}")}}
            last = out[-1] if out else None
            # consecutive calls belong to one assistant turn, as chat expresses them
            if last is not None and last["role"] == "assistant" and (
                    last.get("tool_calls") or not last.get("content")):
                last.setdefault("tool_calls", []).append(call)
            else:
                out.append({"role": "assistant", "content": None, "tool_calls": [call]})
            if pending:
                out[-1]["reasoning_details"], pending = pending, []
        elif kind == "function_call_output":
            if not item.get("call_id"):
                raise bad_request(f"{where}.call_id is required", where)
            out.append({"role": "tool", "tool_call_id": str(item["call_id"]),
                        "content": _text_of(item.get("output"), f"{where}.output")})
        elif kind == "reasoning":
            pending += _details(item)  # only signed provider reasoning is replayed
        elif kind == "item_reference":
            raise bad_request(f"{where}: item_reference needs stored responses; Switchboard's "
                              "Responses API is stateless, send the items themselves", where)
        else:
            raise bad_request(f"{where}.type {kind!r} is not supported", where)
    return out


def _tools(body: dict[str, Any], chat: dict[str, Any]) -> None:
    tools = body.get("tools")
    if tools is None:
        return
    if not isinstance(tools, list):
        raise bad_request("tools must be a list", "tools")
    out = []
    for i, tool in enumerate(tools):
        kind = tool.get("type") if isinstance(tool, dict) else None
        if kind == "function":
            if not isinstance(tool.get("name"), str) or not tool["name"]:
                raise bad_request(f"tools[{i}].name is required", "tools")
            fn = {"name": tool["name"], "parameters": tool.get("parameters") or {
                "type": "object", "properties": {}}}
            for k in ("description", "strict"):
                if tool.get(k) is not None:
                    fn[k] = tool[k]
            out.append({"type": "function", "function": fn})
        elif kind in _WEB_TOOLS:
            plugins = list(chat.get("plugins") or [])
            if not any(isinstance(p, dict) and p.get("id") == "web" for p in plugins):
                plugins.append({"id": "web"})
            chat["plugins"] = plugins
        else:
            raise bad_request(f"tools[{i}].type {kind!r} is not supported (function tools "
                              "and web_search only)", "tools")
    if out:
        chat["tools"] = out


def _tool_choice(choice: Any) -> Any:
    if choice is None or isinstance(choice, str):
        return choice
    if isinstance(choice, dict) and choice.get("type") == "function" and choice.get("name"):
        return {"type": "function", "function": {"name": choice["name"]}}
    if isinstance(choice, dict) and choice.get("type") == "allowed_tools":
        return choice.get("mode") or "auto"
    raise bad_request("tool_choice must be auto, none, required or {type: function, name}",
                      "tool_choice")


def _format(text: Any, chat: dict[str, Any]) -> None:
    if text is None:
        return
    if not isinstance(text, dict):
        raise bad_request("text must be an object", "text")
    if text.get("verbosity"):
        chat["verbosity"] = text["verbosity"]
    fmt = text.get("format")
    if fmt is None or (isinstance(fmt, dict) and fmt.get("type") == "text"):
        return
    if not isinstance(fmt, dict):
        raise bad_request("text.format must be an object", "text.format")
    if fmt.get("type") == "json_object":
        chat["response_format"] = {"type": "json_object"}
    elif fmt.get("type") == "json_schema":
        if not isinstance(fmt.get("schema"), dict):
            raise bad_request("text.format.schema must be a JSON schema object", "text.format")
        schema = {"name": fmt.get("name") or "response", "schema": fmt["schema"]}
        for k in ("strict", "description"):
            if fmt.get(k) is not None:
                schema[k] = fmt[k]
        chat["response_format"] = {"type": "json_schema", "json_schema": schema}
    else:
        raise bad_request(f"text.format.type {fmt.get('type')!r} is not supported",
                          "text.format")


def to_chat(body: Any) -> dict[str, Any]:
    """A Responses request as the equivalent Chat Completions body (OpenRouter fields kept)."""
    if not isinstance(body, dict):
        raise bad_request("request body must be a JSON object")
    if body.get("previous_response_id"):
        raise bad_request("previous_response_id is not supported: Switchboard's Responses API "
                          "is stateless; send the whole conversation in input",
                          "previous_response_id")
    if body.get("store") is True:
        raise bad_request("store: true is not supported: Switchboard's Responses API is "
                          "stateless and keeps no responses; send store: false", "store")
    if body.get("background") is True:
        raise bad_request("background responses are not supported", "background")
    chat: dict[str, Any] = {k: body[k] for k in _SAME if k in body}
    chat["messages"] = _messages(body)
    _tools(body, chat)
    if "tool_choice" in body:
        chat["tool_choice"] = _tool_choice(body["tool_choice"])
    if body.get("max_output_tokens") is not None:
        chat["max_tokens"] = body["max_output_tokens"]
    if body.get("top_logprobs"):
        chat["logprobs"] = True
        chat["top_logprobs"] = body["top_logprobs"]
    reasoning = body.get("reasoning")
    if isinstance(reasoning, dict):
        kept = {k: reasoning[k] for k in ("effort", "max_tokens", "enabled", "exclude")
                if reasoning.get(k) is not None}
        if kept:
            chat["reasoning"] = kept
    elif reasoning is not None:
        raise bad_request("reasoning must be an object", "reasoning")
    _format(body.get("text"), chat)
    return chat


# -- response --------------------------------------------------------------------------


def _usage(usage: dict[str, Any] | None) -> dict[str, Any] | None:
    if not usage:
        return None
    pdet = usage.get("prompt_tokens_details") or {}
    cdet = usage.get("completion_tokens_details") or {}
    costs = usage.get("cost_details") or {}
    return {
        "input_tokens": int(usage.get("prompt_tokens") or 0),
        "input_tokens_details": {"cached_tokens": int(pdet.get("cached_tokens") or 0)},
        "output_tokens": int(usage.get("completion_tokens") or 0),
        "output_tokens_details": {"reasoning_tokens": int(cdet.get("reasoning_tokens") or 0)},
        "total_tokens": int(usage.get("total_tokens") or 0),
        "cost": usage.get("cost", 0),
        "is_byok": bool(usage.get("is_byok")),
        "cost_details": {
            "upstream_inference_cost": costs.get("upstream_inference_cost", 0),
            "upstream_inference_input_cost": costs.get("upstream_inference_prompt_cost", 0),
            "upstream_inference_output_cost": costs.get("upstream_inference_completions_cost",
                                                        0),
        },
    }


def _status(finish: str | None) -> tuple[str, dict[str, str] | None]:
    if finish == "length":
        return "incomplete", {"reason": "max_output_tokens"}
    if finish == "content_filter":
        return "incomplete", {"reason": "content_filter"}
    return "completed", None


class Envelope:
    """The Response object's fields that echo the request, shared by every event."""

    def __init__(self, request: dict[str, Any]) -> None:
        self.request = request

    def response(self, resp_id: str, model: str, created: int, status: str,
                 output: list[dict[str, Any]], usage: dict[str, Any] | None = None,
                 incomplete: dict[str, str] | None = None,
                 error: dict[str, Any] | None = None) -> dict[str, Any]:
        r = self.request
        text = r.get("text") if isinstance(r.get("text"), dict) else {}
        reasoning = r.get("reasoning") if isinstance(r.get("reasoning"), dict) else None
        return {
            "id": resp_id, "object": "response", "created_at": created, "model": model,
            "status": status,
            "completed_at": int(time.time()) if status in ("completed", "incomplete") else None,
            "output": output, "error": error, "incomplete_details": incomplete,
            "tools": [t for t in (r.get("tools") or []) if isinstance(t, dict)],
            "tool_choice": r.get("tool_choice", "auto"),
            "parallel_tool_calls": r.get("parallel_tool_calls", True),
            "max_output_tokens": r.get("max_output_tokens"),
            "temperature": r.get("temperature"), "top_p": r.get("top_p"),
            "presence_penalty": r.get("presence_penalty"),
            "frequency_penalty": r.get("frequency_penalty"),
            "top_logprobs": r.get("top_logprobs", 0), "max_tool_calls": None,
            "metadata": r.get("metadata") or {}, "background": False,
            "previous_response_id": None, "service_tier": "auto", "truncation": "disabled",
            "store": False, "instructions": r.get("instructions"),
            "text": {"format": (text or {}).get("format") or {"type": "text"}},
            "reasoning": reasoning, "safety_identifier": r.get("safety_identifier"),
            "prompt_cache_key": r.get("prompt_cache_key"), "user": r.get("user"),
            **({"usage": usage} if usage is not None else {}),  # the schema has no null usage
        }


def _message_item(item_id: str, text: str, status: str = "completed") -> dict[str, Any]:
    return {"id": item_id, "type": "message", "status": status, "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": [],
                         "logprobs": []}] if status == "completed" else []}


def _reasoning_item(item_id: str, text: str, details: list[Any] | None = None) -> dict[str, Any]:
    item = {"id": item_id, "type": "reasoning", "status": "completed", "summary": [],
            "content": [{"type": "reasoning_text", "text": text}]}
    if details:  # signed thinking goes back to the provider on the next turn, untouched
        item["encrypted_content"] = base64.b64encode(orjson.dumps(details)).decode()
    return item


def _call_item(item_id: str, call_id: str, name: str, arguments: str,
               status: str = "completed") -> dict[str, Any]:
    return {"id": item_id, "type": "function_call", "status": status, "call_id": call_id,
            "name": name, "arguments": arguments}


def from_completion(result: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    """A chat.completion (already shaped by the chat service) as a Response object."""
    choice = (result.get("choices") or [{}])[0]
    msg = choice.get("message") or {}
    output: list[dict[str, Any]] = []
    if msg.get("reasoning"):
        output.append(_reasoning_item(new_item_id("rs"), str(msg["reasoning"]),
                                      msg.get("reasoning_details")))
    if msg.get("content"):
        output.append(_message_item(new_item_id("msg"), str(msg["content"])))
    for call in msg.get("tool_calls") or ():
        fn = call.get("function") or {}
        output.append(_call_item(new_item_id("fc"), str(call.get("id") or ""),
                                 str(fn.get("name") or ""), str(fn.get("arguments") or "")))
    status, incomplete = _status(choice.get("finish_reason"))
    return Envelope(request).response(
        str(result.get("id")), str(result.get("model")), int(result.get("created") or 0),
        status, output, _usage(result.get("usage")), incomplete)


# -- stream ----------------------------------------------------------------------------


class ResponsesStream:
    """Chat chunks in, typed Responses events out (sans-I/O; each event numbered)."""

    def __init__(self, request: dict[str, Any], resp_id: str, model: str, created: int) -> None:
        self.env = Envelope(request)
        self.id, self.model, self.created = resp_id, model, created
        self.seq = 0
        self.output: list[dict[str, Any]] = []  # finished items, in the order they finished
        self.positions: dict[str, int] = {}  # item id -> output_index
        self.open: dict[str, Any] | None = None  # the item being streamed: text or reasoning
        self.calls: dict[int, dict[str, Any]] = {}  # chat tool-call index -> open call item
        self.finish: str | None = None
        self.usage: dict[str, Any] | None = None
        self.done = False

    def _ev(self, kind: str, **fields: Any) -> dict[str, Any]:
        ev = {"type": kind, **fields, "sequence_number": self.seq}
        self.seq += 1
        return ev

    def start(self) -> list[dict[str, Any]]:
        snapshot = self.env.response(self.id, self.model, self.created, "in_progress", [])
        return [self._ev("response.created", response=snapshot),
                self._ev("response.in_progress", response=snapshot)]

    # items --------------------------------------------------------------------------

    def _open_text(self, kind: str) -> list[dict[str, Any]]:
        """Make `kind` ("message" or "reasoning") the open item, closing another first."""
        if self.open is not None and self.open["kind"] == kind:
            return []
        events = self._close_open()
        index = len(self.output) + len(self.calls)
        if kind == "message":
            item_id = new_item_id("msg")
            item = _message_item(item_id, "", "in_progress")
            part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        else:
            item_id = new_item_id("rs")
            item = {"id": item_id, "type": "reasoning", "status": "in_progress", "summary": []}
            part = {"type": "reasoning_text", "text": ""}
        self.open = {"kind": kind, "id": item_id, "index": index, "text": "", "details": []}
        events.append(self._ev("response.output_item.added", output_index=index, item=item))
        events.append(self._ev("response.content_part.added", item_id=item_id,
                               output_index=index, content_index=0, part=part))
        return events

    def _close_open(self) -> list[dict[str, Any]]:
        o = self.open
        if o is None:
            return []
        self.open = None
        text, item_id, index = o["text"], o["id"], o["index"]
        if o["kind"] == "message":
            item = _message_item(item_id, text)
            part = item["content"][0]
            done = self._ev("response.output_text.done", item_id=item_id, output_index=index,
                            content_index=0, text=text, logprobs=[])
        else:
            item = _reasoning_item(item_id, text, o["details"])
            part = item["content"][0]
            done = self._ev("response.reasoning_text.done", item_id=item_id,
                            output_index=index, content_index=0, text=text)
        self._finished(item, index)
        return [done,
                self._ev("response.content_part.done", item_id=item_id, output_index=index,
                         content_index=0, part=part),
                self._ev("response.output_item.done", output_index=index, item=item)]

    def _text(self, kind: str, delta: str) -> list[dict[str, Any]]:
        events = self._open_text(kind)
        assert self.open is not None
        self.open["text"] += delta
        name = "response.output_text.delta" if kind == "message" else (
            "response.reasoning_text.delta")
        extra: dict[str, Any] = {"logprobs": []} if kind == "message" else {}
        events.append(self._ev(name, item_id=self.open["id"], output_index=self.open["index"],
                               content_index=0, delta=delta, **extra))
        return events

    def _call(self, call: dict[str, Any]) -> list[dict[str, Any]]:
        index = int(call.get("index") or 0)
        fn = call.get("function") or {}
        events: list[dict[str, Any]] = []
        slot = self.calls.get(index)
        if slot is None:
            events += self._close_open()
            slot = {"id": new_item_id("fc"), "call_id": str(call.get("id") or ""),
                    "name": str(fn.get("name") or ""), "arguments": "",
                    "index": len(self.output) + len(self.calls)}
            self.calls[index] = slot
            item = _call_item(slot["id"], slot["call_id"], slot["name"], "", "in_progress")
            events.append(self._ev("response.output_item.added", output_index=slot["index"],
                                   item=item))
        args = fn.get("arguments") or ""
        if args:
            slot["arguments"] += args
            events.append(self._ev("response.function_call_arguments.delta", item_id=slot["id"],
                                   output_index=slot["index"], delta=args))
        return events

    def _close_calls(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        for slot in sorted(self.calls.values(), key=lambda s: s["index"]):
            item = _call_item(slot["id"], slot["call_id"], slot["name"], slot["arguments"])
            events.append(self._ev("response.function_call_arguments.done", item_id=slot["id"],
                                   output_index=slot["index"], name=slot["name"],
                                   arguments=slot["arguments"]))
            events.append(self._ev("response.output_item.done", output_index=slot["index"],
                                   item=item))
            self._finished(item, slot["index"])
        self.calls.clear()
        return events

    # chunks -------------------------------------------------------------------------

    def feed(self, chunk: dict[str, Any]) -> list[dict[str, Any]]:
        if self.done:
            return []
        if chunk.get("error"):
            return self.fail(chunk["error"])
        if chunk.get("model"):
            self.model = str(chunk["model"])
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        events: list[dict[str, Any]] = []
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            if delta.get("reasoning"):
                events += self._text("reasoning", str(delta["reasoning"]))
            if delta.get("reasoning_details"):
                events += self._open_text("reasoning")
                assert self.open is not None
                self.open["details"] += delta["reasoning_details"]
            if delta.get("content"):
                events += self._text("message", str(delta["content"]))
            for call in delta.get("tool_calls") or ():
                events += self._call(call)
            if choice.get("finish_reason"):
                self.finish = choice["finish_reason"]
        return events

    def close(self) -> list[dict[str, Any]]:
        """The stream ended normally (after its usage chunk): close items, complete."""
        if self.done:
            return []
        self.done = True
        events = self._close_open() + self._close_calls()
        status, incomplete = _status(self.finish)
        final = self.env.response(self.id, self.model, self.created, status,
                                  sorted(self.output, key=self._position),
                                  _usage(self.usage), incomplete)
        kind = "response.completed" if status == "completed" else "response.incomplete"
        return [*events, self._ev(kind, response=final)]

    def fail(self, error: dict[str, Any]) -> list[dict[str, Any]]:
        """An in-band error after the start: an `error` event, then `response.failed`."""
        self.done = True
        code = str((error.get("metadata") or {}).get("error_type") or error.get("code")
                   or "server_error")
        message = str(error.get("message") or "upstream error")
        # the Response object's error code is a closed set; the event carries ours
        closed = "rate_limit_exceeded" if code == "rate_limit_exceeded" else "server_error"
        failed = self.env.response(self.id, self.model, self.created, "failed",
                                   sorted(self.output, key=self._position),
                                   _usage(self.usage), None,
                                   {"code": closed, "message": message})
        return [self._ev("error", code=code, message=message, param=None),
                self._ev("response.failed", response=failed)]

    def _finished(self, item: dict[str, Any], index: int) -> None:
        self.output.append(item)
        self.positions[item["id"]] = index

    def _position(self, item: dict[str, Any]) -> int:
        return self.positions[item["id"]]
