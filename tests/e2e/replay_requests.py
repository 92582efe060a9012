"""A recorded provider request written as the OpenAI Chat Completions request that means the same.

What a client of the gateway would send to get the recorded call made. Provider-only features
with no OpenAI spelling (Anthropic server tools, Gemini safety settings, response modalities)
are left out; they do not change how the recorded answer must be read.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from tests.dialects.fixtures import Interaction

Body = dict[str, Any]
GEMINI_FORMAT = "google-gemini-v1"
ANTHROPIC_FORMAT = "anthropic-claude-v1"


def is_stream(folder: str, it: Interaction) -> bool:
    if folder == "gemini":
        return "streamGenerateContent" in it.url
    return isinstance(it.request, dict) and it.request.get("stream") is True


def upstream_model(folder: str, it: Interaction) -> str:
    if folder == "gemini":
        found = re.search(r"/models/([^:/?]+):", it.url)
        assert found, it.url
        return found.group(1)
    return str(it.request["model"])


def openai_request(folder: str, it: Interaction) -> Body:
    """The OpenAI request body (without model and stream) for a recorded chat call."""
    convert = {"anthropic": from_anthropic, "gemini": from_gemini, "cohere": from_cohere}
    return convert.get(folder, from_openai)(it.request)


# -- Anthropic Messages ---------------------------------------------------------------------


def _cache(block: dict[str, Any]) -> dict[str, Any]:
    return {"cache_control": block["cache_control"]} if block.get("cache_control") else {}


def _anthropic_text(content: Any) -> Any:
    if isinstance(content, str):
        return content
    return [{"type": "text", "text": b["text"], **_cache(b)} for b in content or []
            if b.get("type") == "text"]


def from_anthropic(req: Body) -> Body:
    messages: list[Body] = []
    system = req.get("system")
    if system:
        messages.append({"role": "system", "content": _anthropic_text(system)})
    for m in req["messages"]:
        if isinstance(m["content"], str):
            messages.append({"role": m["role"], "content": m["content"]})
            continue
        parts: list[Body] = []
        calls: list[Body] = []
        details: list[Body] = []
        results: list[Body] = []
        for b in m["content"]:
            kind = b["type"]
            if kind == "text":
                parts.append({"type": "text", "text": b["text"], **_cache(b)})
            elif kind == "image":
                src = b["source"]
                url = (src["url"] if src["type"] == "url"
                       else f"data:{src['media_type']};base64,{src['data']}")
                parts.append({"type": "image_url", "image_url": {"url": url}})
            elif kind == "tool_result":
                results.append({"role": "tool", "tool_call_id": b["tool_use_id"],
                                "content": _anthropic_text(b.get("content") or "")})
            elif kind == "tool_use":
                calls.append({"id": b["id"], "type": "function", "function": {
                    "name": b["name"], "arguments": json.dumps(b["input"])}})
            elif kind == "thinking":
                details.append({"type": "reasoning.text", "text": b["thinking"],
                                "signature": b["signature"], "format": ANTHROPIC_FORMAT,
                                "index": len(details)})
            elif kind == "redacted_thinking":
                details.append({"type": "reasoning.encrypted", "data": b["data"],
                                "format": ANTHROPIC_FORMAT, "index": len(details)})
        if m["role"] == "assistant":
            msg: Body = {"role": "assistant",
                         "content": "".join(p["text"] for p in parts if p["type"] == "text")
                         or None}
            if calls:
                msg["tool_calls"] = calls
            if details:
                msg["reasoning_details"] = details
            messages.append(msg)
            continue
        messages += results
        if parts:
            messages.append({"role": "user", "content": parts})
    out: Body = {"messages": messages, "max_tokens": req["max_tokens"]}
    # server tools (web search, code execution) have no OpenAI spelling
    tools = [{"type": "function", "function": {
        "name": t["name"], "description": t.get("description") or "",
        "parameters": t["input_schema"]}}
        for t in req.get("tools") or [] if t.get("type") in (None, "custom")]
    if tools:
        out["tools"] = tools
        choice = req.get("tool_choice") or {}
        if choice.get("type") == "tool":
            out["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
        elif choice.get("type"):
            out["tool_choice"] = {"any": "required"}.get(choice["type"], choice["type"])
    thinking = req.get("thinking") or {}
    if thinking.get("type") == "enabled":
        out["reasoning"] = {"max_tokens": thinking["budget_tokens"]}
    elif thinking.get("type") == "adaptive":
        out["reasoning"] = {"effort": "medium"}
    effort = (req.get("output_config") or {}).get("effort")
    if effort:
        out["reasoning"] = {"effort": effort}
    for src, dst in (("temperature", "temperature"), ("top_p", "top_p"), ("top_k", "top_k"),
                     ("stop_sequences", "stop")):
        if req.get(src) is not None:
            out[dst] = req[src]
    return out


# -- Gemini generateContent -----------------------------------------------------------------


def _json_schema(node: Any) -> Any:
    """Gemini's OpenAPI schema (upper-case types) -> JSON Schema."""
    if isinstance(node, list):
        return [_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _json_schema(v) for k, v in node.items()}
    if isinstance(out.get("type"), str):
        out["type"] = out["type"].lower()
    return out


def _data_uri(blob: dict[str, Any]) -> str:
    data = blob["data"]
    if "-" in data or "_" in data:  # pydantic-ai records URL-safe base64
        data = base64.b64encode(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))).decode()
    return f"data:{blob['mimeType']};base64,{data}"


def gemini_part(part: dict[str, Any]) -> dict[str, Any]:
    """A part with its keys in camelCase: Google's JSON accepts snake_case too (llm-gemini)."""
    return {re.sub(r"_([a-z])", lambda m: m.group(1).upper(), k): v for k, v in part.items()}


def from_gemini(req: Body) -> Body:
    messages: list[Body] = []
    system = req.get("systemInstruction")
    if system:
        messages.append({"role": "system",
                         "content": "".join(p.get("text", "") for p in system["parts"])})
    pending: dict[str, list[str]] = {}  # function name -> ids of calls not yet answered
    for n, content in enumerate(req["contents"]):
        parts = [gemini_part(p) for p in content["parts"]]
        if content.get("role") == "model":
            calls: list[Body] = []
            details: list[Body] = []
            text = ""
            for p in parts:
                call_id = None
                if "functionCall" in p:
                    fc = p["functionCall"]
                    call_id = fc.get("id") or f"call_{n}_{len(calls)}"
                    pending.setdefault(fc["name"], []).append(call_id)
                    calls.append({"id": call_id, "type": "function", "function": {
                        "name": fc["name"], "arguments": json.dumps(fc.get("args") or {})}})
                elif "text" in p and not p.get("thought"):
                    text += p["text"]
                if p.get("thoughtSignature"):
                    details.append({"type": "reasoning.encrypted", "data": p["thoughtSignature"],
                                    "id": call_id, "format": GEMINI_FORMAT,
                                    "index": len(details)})
            msg: Body = {"role": "assistant", "content": text or None}
            if calls:
                msg["tool_calls"] = calls
            if details:
                msg["reasoning_details"] = details
            messages.append(msg)
            continue
        user: list[Body] = []
        for p in parts:
            if "functionResponse" in p:
                fr = p["functionResponse"]
                call_id = fr.get("id") or pending[fr["name"]].pop(0)
                messages.append({"role": "tool", "tool_call_id": call_id,
                                 "content": json.dumps(fr["response"])})
            elif "text" in p:
                user.append({"type": "text", "text": p["text"]})
            elif "inlineData" in p:
                user.append({"type": "image_url", "image_url": {"url": _data_uri(p["inlineData"])}})
            elif "fileData" in p:
                user.append({"type": "image_url", "image_url": {"url": p["fileData"]["fileUri"]}})
        if user:
            messages.append({"role": "user", "content": user})
    out: Body = {"messages": messages}
    decls = [d for t in req.get("tools") or [] for d in t.get("functionDeclarations") or []]
    if decls:
        out["tools"] = [{"type": "function", "function": {
            "name": d["name"], "description": d.get("description") or "",
            "parameters": _json_schema(d.get("parameters") or d.get("parameters_json_schema")
                                       or {"type": "object", "properties": {}})}}
            for d in decls]
        config = (req.get("toolConfig") or {}).get("functionCallingConfig") or {}
        allowed = config.get("allowedFunctionNames") or []
        if config.get("mode") == "ANY" and len(allowed) == 1:
            out["tool_choice"] = {"type": "function", "function": {"name": allowed[0]}}
        elif config.get("mode"):
            out["tool_choice"] = {"ANY": "required", "AUTO": "auto",
                                  "NONE": "none"}[config["mode"]]
    gen = req.get("generationConfig") or {}
    for src, dst in (("temperature", "temperature"), ("topP", "top_p"), ("topK", "top_k"),
                     ("maxOutputTokens", "max_tokens"), ("stopSequences", "stop"),
                     ("candidateCount", "n")):
        if gen.get(src) is not None:
            out[dst] = gen[src]
    if gen.get("responseMimeType") == "application/json":
        schema = gen.get("responseJsonSchema") or gen.get("responseSchema")
        out["response_format"] = (
            {"type": "json_schema", "json_schema": {"name": "answer",
                                                    "schema": _json_schema(schema)}}
            if schema else {"type": "json_object"})
    thinking = gen.get("thinkingConfig") or {}
    if "thinkingBudget" in thinking:
        budget = thinking["thinkingBudget"]
        out["reasoning"] = {"max_tokens": budget} if budget else {"enabled": False}
    elif thinking.get("includeThoughts"):
        out["reasoning"] = {"enabled": True}
    return out


# -- Cohere v2 chat --------------------------------------------------------------------------


def _cohere_text(content: Any) -> Any:
    if isinstance(content, str) or content is None:
        return content
    return "".join(item.get("text") or "" for item in content if item.get("type") == "text")


def from_cohere(req: Body) -> Body:
    messages: list[Body] = []
    for m in req["messages"]:
        msg: Body = {"role": m["role"], "content": _cohere_text(m.get("content"))}
        if m.get("tool_calls"):
            msg["tool_calls"] = m["tool_calls"]
        if m.get("tool_call_id"):
            msg["tool_call_id"] = m["tool_call_id"]
        messages.append(msg)
    out: Body = {"messages": messages}
    if req.get("tools"):
        out["tools"] = req["tools"]
    if req.get("tool_choice"):
        out["tool_choice"] = req["tool_choice"].lower()
    for src, dst in (("temperature", "temperature"), ("p", "top_p"), ("k", "top_k"),
                     ("max_tokens", "max_tokens"), ("stop_sequences", "stop"), ("seed", "seed")):
        if req.get(src) is not None:
            out[dst] = req[src]
    return out


# -- OpenAI-compatible -----------------------------------------------------------------------

# The gateway refuses these before any upstream call (tested in test_chat_openai); a recording
# that sent them to provoke an upstream 400 is replayed without them.
_INVALID = {"max_tokens": lambda v: v is not None and v < 1,
            "temperature": lambda v: v is not None and not 0 <= v <= 2}


# OpenRouter routing fields name OpenRouter's own providers and models, not the test's
_ROUTING = ("provider", "models", "route", "preset")


def from_openai(req: Body) -> Body:
    return {k: v for k, v in req.items()
            if k not in ("model", "stream", *_ROUTING)
            and not (k in _INVALID and _INVALID[k](v))}
