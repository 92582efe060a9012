"""What a recorded answer says happened, read from the recording alone (never the dialects).

Anthropic streams are accumulated by the Anthropic SDK's own helper; the other formats are
simple enough to fold here. Usage is what OpenAI would report for the same call: prompt
tokens include cached reads and writes, completion tokens include reasoning.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from anthropic.lib.streaming._messages import accumulate_event

from tests.dialects.fixtures import Interaction

_ANTHROPIC_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "pause_turn": "stop",
                     "tool_use": "tool_calls", "max_tokens": "length",
                     "refusal": "content_filter"}
_GEMINI_FINISH = {"STOP": "stop", "MAX_TOKENS": "length", "SAFETY": "content_filter",
                  "RECITATION": "content_filter", "PROHIBITED_CONTENT": "content_filter"}
_COHERE_FINISH = {"COMPLETE": "stop", "STOP_SEQUENCE": "stop", "MAX_TOKENS": "length",
                  "TOOL_CALL": "tool_calls"}


@dataclass
class Expected:
    text: str = ""
    reasoning: str = ""
    tool_calls: list[tuple[str | None, str, Any]] = field(default_factory=list)  # id, name, args
    finish: str | None = None
    native: str | None = None
    usage: dict[str, int] = field(default_factory=dict)
    stream_error: dict[str, Any] | None = None  # an error event inside a 200 stream


def _usage(prompt: int, completion: int, cached: int = 0, written: int = 0,
           reasoning: int = 0) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion, "cached_tokens": cached,
            "cache_write_tokens": written, "reasoning_tokens": reasoning}


def sse_payloads(body: bytes) -> list[tuple[str | None, str]]:
    """(event name, data) of every SSE frame."""
    out = []
    for frame in body.decode().replace("\r\n", "\n").split("\n\n"):
        lines = frame.split("\n")
        data = [ln[5:].lstrip() for ln in lines if ln.startswith("data:")]
        event = next((ln[6:].strip() for ln in lines if ln.startswith("event:")), None)
        if data:
            out.append((event, "\n".join(data)))
    return out


def expected(folder: str, it: Interaction) -> Expected:
    read = {"anthropic": anthropic, "gemini": gemini, "cohere": cohere}.get(folder, openai)
    return read(it)


# -- Anthropic -------------------------------------------------------------------------------


def anthropic(it: Interaction) -> Expected:
    if it.is_sse:
        snapshot: Any = None
        bufs: dict[int, bytes] = {}
        usage: dict[str, Any] = {}  # message_delta counts are cumulative: they replace
        for _, data in sse_payloads(it.body):
            event = json.loads(data)
            usage.update((event.get("message") or event).get("usage") or {})
            if event["type"] not in ("ping", "error"):
                snapshot = accumulate_event(event=event, current_snapshot=snapshot,
                                            json_bufs=bufs)
        msg = snapshot.model_dump(mode="json")
    else:
        msg = it.json()
        usage = msg["usage"]
    blocks = msg["content"]
    read = usage.get("cache_read_input_tokens") or 0
    write = usage.get("cache_creation_input_tokens") or 0
    calls = [(b["id"], b["name"], b["input"]) for b in blocks if b["type"] == "tool_use"]
    return Expected(
        text="".join(b["text"] for b in blocks if b["type"] == "text"),
        reasoning="".join(b["thinking"] for b in blocks if b["type"] == "thinking"),
        tool_calls=calls,  # type: ignore[arg-type]
        finish=_ANTHROPIC_FINISH[msg["stop_reason"]], native=msg["stop_reason"],
        usage=_usage(usage["input_tokens"] + read + write, usage["output_tokens"], read, write,
                     (usage.get("output_tokens_details") or {}).get("thinking_tokens") or 0),
    )


# -- Gemini ----------------------------------------------------------------------------------


def gemini_frames(body: bytes) -> list[dict[str, Any]]:
    text = body.decode().strip()
    if text.startswith("["):  # streamGenerateContent without alt=sse: one JSON array
        return list(json.loads(text))
    if text.startswith("{"):
        return [json.loads(text)]
    return [json.loads(data) for _, data in sse_payloads(body)]


def gemini(it: Interaction) -> Expected:
    out = Expected()
    meta: dict[str, Any] = {}
    for frame in gemini_frames(it.body):
        meta = frame.get("usageMetadata") or meta
        for cand in frame.get("candidates") or []:
            for part in (cand.get("content") or {}).get("parts") or []:
                if "functionCall" in part:
                    fc = part["functionCall"]
                    out.tool_calls.append((fc.get("id"), fc["name"], fc.get("args") or {}))
                elif part.get("thought"):
                    out.reasoning += part.get("text") or ""
                elif "text" in part:
                    out.text += part["text"]
            out.native = cand.get("finishReason") or out.native
    finish = _GEMINI_FINISH.get(out.native or "STOP", "stop")
    out.finish = "tool_calls" if finish == "stop" and out.tool_calls else finish
    thoughts = meta.get("thoughtsTokenCount") or 0
    out.usage = _usage(
        (meta.get("promptTokenCount") or 0) + (meta.get("toolUsePromptTokenCount") or 0),
        (meta.get("candidatesTokenCount") or 0) + thoughts,
        cached=meta.get("cachedContentTokenCount") or 0, reasoning=thoughts)
    return out


# -- Cohere ----------------------------------------------------------------------------------


def cohere(it: Interaction) -> Expected:
    doc = it.json()
    message = doc["message"]
    calls = [(c["id"], c["function"]["name"], json.loads(c["function"]["arguments"] or "{}"))
             for c in message.get("tool_calls") or []]
    # `tokens` (what the model read, Cohere's hidden preamble included) before `billed_units`
    # (what Cohere charges), as the dialect counts them
    tokens = doc["usage"].get("tokens") or doc["usage"]["billed_units"]
    items = message.get("content") or []
    # the tool plan is the model's reasoning before its calls, after any thinking
    thoughts = [i["thinking"] for i in items if i["type"] == "thinking"]
    thoughts += [message["tool_plan"]] if message.get("tool_plan") else []
    return Expected(
        text="".join(i["text"] for i in items if i["type"] == "text"),
        reasoning="\n\n".join(thoughts),
        tool_calls=calls,  # type: ignore[arg-type]
        finish=_COHERE_FINISH[doc["finish_reason"]], native=doc["finish_reason"],
        usage=_usage(int(tokens["input_tokens"]), int(tokens["output_tokens"]),
                     cached=doc["usage"].get("cached_tokens") or 0),
    )


# -- OpenAI-compatible -----------------------------------------------------------------------


def _openai_content(content: Any, out: Expected) -> None:
    """Plain text, or Mistral's list of text and thinking items."""
    if isinstance(content, str):
        out.text += content
        return
    for item in content or []:
        if item.get("type") == "text":
            out.text += item["text"]
        elif item.get("type") == "thinking":
            out.reasoning += "".join(t.get("text") or "" for t in item.get("thinking") or [])


def _openai_usage(usage: dict[str, Any]) -> dict[str, int]:
    details = usage.get("prompt_tokens_details") or {}
    cached = details.get("cached_tokens") or 0
    written = details.get("cache_write_tokens") or 0  # OpenRouter reports cache writes here
    reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0
    return _usage(usage["prompt_tokens"], usage["completion_tokens"], cached=cached,
                  written=written, reasoning=reasoning)


def openai(it: Interaction) -> Expected:
    out = Expected()
    if not it.is_sse:
        doc = it.json()
        choice = doc["choices"][0]
        message = choice["message"]
        _openai_content(message.get("content"), out)
        out.reasoning += message.get("reasoning") or ""
        out.tool_calls = [
            (c["id"], c["function"]["name"], json.loads(c["function"].get("arguments") or "{}"))
            for c in message.get("tool_calls") or []]
        out.finish = choice["finish_reason"]
        # an upstream that reports its own native reason (OpenRouter does) keeps it
        out.native = choice.get("native_finish_reason") or out.finish
        out.usage = _openai_usage(doc["usage"])
        return out
    calls: dict[int, dict[str, Any]] = {}
    for event, data in sse_payloads(it.body):
        if data == "[DONE]":
            continue
        chunk = json.loads(data)
        if event == "error" or "error" in chunk:
            out.stream_error = chunk["error"]
            break
        if chunk.get("usage"):
            out.usage = _openai_usage(chunk["usage"])
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            _openai_content(delta.get("content"), out)
            out.reasoning += delta.get("reasoning") or ""
            for call in delta.get("tool_calls") or []:
                slot = calls.setdefault(call["index"], {"id": None, "name": "", "args": ""})
                slot["id"] = slot["id"] or call.get("id")
                slot["name"] += (call.get("function") or {}).get("name") or ""
                slot["args"] += (call.get("function") or {}).get("arguments") or ""
            out.finish = choice.get("finish_reason") or out.finish
            out.native = choice.get("native_finish_reason") or out.native
    out.native = out.native or out.finish
    out.tool_calls = [(c["id"], c["name"], json.loads(c["args"] or "{}"))
                      for _, c in sorted(calls.items())]
    return out
