"""OpenAI Chat Completions request -> Gemini `generateContent` body (AI Studio and Vertex).

How thought signatures travel between turns is described in `gemini.py`.
"""

from __future__ import annotations

import base64
import mimetypes
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from switchboard.api.params import dialect_parameters
from switchboard.dialects.base import requested_max_tokens

FORMAT = "google-gemini-v1"  # reasoning_details format of Gemini signatures
# Google's documented opt-out for replayed calls whose signature is unknown.
SKIP_SIGNATURE = base64.b64encode(b"skip_thought_signature_validator").decode()

SUPPORTED = dialect_parameters("gemini")  # the one parameter table


def _stop(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [str(s) for s in value]


# OpenAI field -> generationConfig field; the first field that sets a target wins, so
# max_completion_tokens (the newer name) beats max_tokens.
_GENERATION_PARAMS: tuple[tuple[str, str, Callable[[Any], Any]], ...] = (
    ("temperature", "temperature", float),
    ("top_p", "topP", float),
    ("top_k", "topK", int),
    ("max_completion_tokens", "maxOutputTokens", int),
    ("max_tokens", "maxOutputTokens", int),
    ("stop", "stopSequences", _stop),
    ("n", "candidateCount", int),
    ("seed", "seed", int),
    ("presence_penalty", "presencePenalty", float),
    ("frequency_penalty", "frequencyPenalty", float),
)

# reasoning.effort -> thinkingBudget. Fixed budgets rather than a share of max_tokens,
# because Gemini's budget is independent of the answer's length limit.
_EFFORT_BUDGET = {
    "minimal": 1024, "low": 4096, "medium": 8192, "high": 16384, "xhigh": 24576, "max": 32768,
}


_TOOL_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY"}


# --- JSON Schema -> Gemini's OpenAPI subset ----------------------------------------------

# Keys Gemini's Schema accepts that we pass on; the rest ($schema, additionalProperties,
# default, examples, pattern, ...) are rejected by some models, so they are dropped.
_SCHEMA_COPY = ("description", "title", "minItems", "maxItems", "minimum", "maximum")
_FORMATS = {"STRING": {"enum", "date-time"}, "INTEGER": {"int32", "int64"},
            "NUMBER": {"float", "double"}}


def clean_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Rewrite a JSON Schema into what Gemini's `parameters` / `responseSchema` accept."""
    defs = {**(schema.get("definitions") or {}), **(schema.get("$defs") or {})}
    return _clean(schema, defs, frozenset())


def _resolve(node: Any, defs: dict[str, Any], seen: frozenset[str]) -> tuple[Any, frozenset[str]]:
    while isinstance(node, dict) and isinstance(node.get("$ref"), str):
        name = node["$ref"].rsplit("/", 1)[-1]
        if name in seen or name not in defs:
            return {"type": "object"}, seen  # recursion: Gemini schemas cannot refer back
        node = {**defs[name], **{k: v for k, v in node.items() if k != "$ref"}}
        seen = seen | {name}
    return node, seen


def _clean(node: Any, defs: dict[str, Any], seen: frozenset[str]) -> dict[str, Any]:
    node, seen = _resolve(node, defs, seen)
    if not isinstance(node, dict):
        return {}
    node = dict(node)
    for sub in node.pop("allOf", None) or ():  # merge: pydantic wraps $refs in allOf
        sub, _ = _resolve(sub, defs, seen)
        if not isinstance(sub, dict):
            continue
        if "properties" in sub:
            node["properties"] = {**sub["properties"], **(node.get("properties") or {})}
        if "required" in sub:
            node["required"] = [*(node.get("required") or ()), *sub["required"]]
        for key, value in sub.items():
            node.setdefault(key, value)
    out: dict[str, Any] = {}
    raw_type = node.get("type")
    listed = raw_type if isinstance(raw_type, list) else [raw_type]
    types = [t for t in listed if isinstance(t, str)]
    nullable = "null" in types or node.get("nullable") is True
    types = [t.upper() for t in types if t != "null"]
    variants = node.get("anyOf") or node.get("oneOf")
    if isinstance(variants, list):
        kept = [v for v in variants if not (isinstance(v, dict) and v.get("type") == "null")]
        nullable = nullable or len(kept) < len(variants)
        cleaned = [_clean(v, defs, seen) for v in kept]
        if len(cleaned) == 1:  # Optional[X] is X, nullable
            out.update(cleaned[0])
        elif cleaned:
            out["anyOf"] = cleaned
    if "const" in node and "enum" not in node:
        node["enum"] = [node["const"]]
    if len(types) > 1:
        out["anyOf"] = [{"type": t} for t in types]
    elif types:
        out["type"] = types[0]
    elif "properties" in node:  # JSON Schema lets the type be implied; Gemini does not
        out["type"] = "OBJECT"
    elif "items" in node:
        out["type"] = "ARRAY"
    if nullable:
        out["nullable"] = True
    for key in _SCHEMA_COPY:
        if key in node and not isinstance(node[key], (dict, list)):
            out[key] = node[key]
    enum = node.get("enum")
    if isinstance(enum, list) and enum and all(isinstance(v, str) for v in enum):
        out["enum"] = enum  # Gemini enums are strings only
        out.setdefault("type", "STRING")
    fmt = node.get("format")
    if isinstance(fmt, str) and fmt in _FORMATS.get(out.get("type", ""), ()):
        out["format"] = fmt
    if isinstance(node.get("properties"), dict):
        props = {str(k): _clean(v, defs, seen) for k, v in node["properties"].items()}
        out["properties"] = props
        required = [r for r in node.get("required") or () if r in props]
        if required:
            out["required"] = list(dict.fromkeys(required))
    items = node.get("items")
    if isinstance(items, list):  # tuple form: Gemini has one item schema
        items = items[0] if items else {}
    if isinstance(items, dict):
        out["items"] = _clean(items, defs, seen)
    return out


# --- request ---------------------------------------------------------------------------


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content] if content else []
    return [p["text"] for p in content or () if isinstance(p, dict) and p.get("text")]


def _media(url: str, default_mime: str) -> dict[str, Any]:
    if url.startswith("data:"):
        header, _, payload = url[5:].partition(",")
        mime = header.split(";")[0] or default_mime
        if ";base64" not in header:  # percent-encoded data URI: Gemini wants base64
            payload = base64.b64encode(urllib.parse.unquote_to_bytes(payload)).decode()
        return {"inlineData": {"mimeType": mime, "data": payload}}
    path = urllib.parse.urlparse(url).path
    mime = mimetypes.guess_type(path)[0] or default_mime
    return {"fileData": {"mimeType": mime, "fileUri": url}}


def _user_parts(content: Any) -> list[dict[str, Any]]:
    if not isinstance(content, list):
        return [{"text": t} for t in _texts(content)]
    parts: list[dict[str, Any]] = []
    for p in content:
        kind = p.get("type") if isinstance(p, dict) else None
        if kind == "text" and p.get("text"):
            parts.append({"text": p["text"]})
        elif kind == "image_url":
            img = p.get("image_url")
            url = img.get("url") if isinstance(img, dict) else img
            if url:
                parts.append(_media(str(url), "image/jpeg"))
        elif kind == "input_audio":
            audio = p.get("input_audio") or {}
            parts.append({"inlineData": {"mimeType": f"audio/{audio.get('format', 'wav')}",
                                         "data": audio.get("data", "")}})
        elif kind == "file":
            f = p.get("file") or {}
            data = str(f.get("file_data") or "")
            if data.startswith(("data:", "http://", "https://", "gs://")):
                parts.append(_media(data, "application/pdf"))
            elif data:
                mime = mimetypes.guess_type(str(f.get("filename") or ""))[0]
                parts.append({"inlineData": {"mimeType": mime or "application/pdf", "data": data}})
        elif kind == "video_url":
            vid = p.get("video_url")
            url = vid.get("url") if isinstance(vid, dict) else vid
            if url:
                parts.append(_media(str(url), "video/mp4"))
    return parts


def _signatures(msg: dict[str, Any]) -> dict[str | None, str]:
    """Signatures to restore on this assistant message's parts, by tool-call id (None: text)."""
    sigs: dict[str | None, str] = {}
    for d in msg.get("reasoning_details") or ():
        if (isinstance(d, dict) and d.get("type") == "reasoning.encrypted" and d.get("data")
                and d.get("format") in (FORMAT, None)):
            sigs[d.get("id")] = str(d["data"])
    for tc in msg.get("tool_calls") or ():
        extra = tc.get("extra_content") if isinstance(tc, dict) else None
        google = extra.get("google") if isinstance(extra, dict) else None
        sig = google.get("thought_signature") if isinstance(google, dict) else None
        if sig and tc.get("id") not in sigs:
            sigs[tc.get("id")] = str(sig)
    return sigs


def _arguments(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    if not raw:
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        value = raw
    return value if isinstance(value, dict) else {"value": value}


def _model_parts(msg: dict[str, Any], call_names: dict[str, str]) -> list[dict[str, Any]]:
    sigs = _signatures(msg)
    parts: list[dict[str, Any]] = [{"text": t} for t in _texts(msg.get("content"))]
    if parts and sigs.get(None):
        parts[0]["thoughtSignature"] = sigs[None]
    for tc in msg.get("tool_calls") or ():
        fn = tc.get("function") or {}
        name = str(fn.get("name") or "")
        call_id = tc.get("id")
        if call_id:
            call_names[call_id] = name
        call = {"name": name, "args": _arguments(fn.get("arguments"))}
        part: dict[str, Any] = {"functionCall": call}
        if call_id and sigs.get(call_id):
            part["thoughtSignature"] = sigs[call_id]
        parts.append(part)
    return parts


def _function_response(msg: dict[str, Any], call_names: dict[str, str]) -> dict[str, Any]:
    name = call_names.get(str(msg.get("tool_call_id"))) or msg.get("name") or "function"
    text = "".join(_texts(msg.get("content")))
    try:
        value: Any = orjson.loads(text)
    except orjson.JSONDecodeError:
        value = text
    # An object is the response itself; anything else goes under "output", the key
    # Google documents for a function's result.
    response = value if isinstance(value, dict) else {"output": value}
    return {"functionResponse": {"name": name, "response": response}}


def build_contents(
    messages: Iterable[dict[str, Any]],
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """OpenAI messages -> (Gemini contents, systemInstruction)."""
    system: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    call_names: dict[str, str] = {}

    def push(role: str, parts: list[dict[str, Any]]) -> None:
        if not parts:
            return
        # Gemini wants alternating turns, and all responses to one step's calls in one turn.
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})

    for msg in messages:
        role = msg.get("role")
        if role in ("system", "developer"):
            system.extend({"text": t} for t in _texts(msg.get("content")))
        elif role == "user":
            push("user", _user_parts(msg.get("content")))
        elif role == "assistant":
            push("model", _model_parts(msg, call_names))
        elif role in ("tool", "function"):
            push("user", [_function_response(msg, call_names)])

    for content in contents:
        calls = [p for p in content["parts"] if "functionCall" in p]
        if content["role"] == "model" and calls and not any("thoughtSignature" in p for p in calls):
            calls[0]["thoughtSignature"] = SKIP_SIGNATURE
    if not contents and system:  # Gemini refuses a request with no contents
        return [{"role": "user", "parts": system}], None
    return contents, ({"parts": system} if system else None)


def _thinking_config(body: dict[str, Any]) -> dict[str, Any] | None:
    raw = body.get("reasoning")
    reasoning = dict(raw) if isinstance(raw, dict) else {}
    if body.get("reasoning_effort") and "effort" not in reasoning:
        reasoning["effort"] = body["reasoning_effort"]
    include = body.get("include_reasoning")
    if not reasoning and include is None:
        return None
    effort = reasoning.get("effort")
    if reasoning.get("enabled") is False or effort == "none":
        return {"thinkingBudget": 0}
    cfg: dict[str, Any] = {}
    if isinstance(reasoning.get("max_tokens"), int):
        cfg["thinkingBudget"] = reasoning["max_tokens"]
    elif effort in _EFFORT_BUDGET:
        cfg["thinkingBudget"] = _EFFORT_BUDGET[effort]
    cfg["includeThoughts"] = not (reasoning.get("exclude") is True or include is False)
    return cfg


def output_cap(body: dict[str, Any], default: int) -> int:
    """maxOutputTokens plus a thinking budget, which Gemini may spend on top of the answer."""
    thinking = _thinking_config(body) or {}
    budget = thinking.get("thinkingBudget")
    extra = budget if isinstance(budget, int) and budget > 0 else 0
    return (requested_max_tokens(body) or default) + extra


def _generation_config(body: dict[str, Any]) -> dict[str, Any]:
    cfg: dict[str, Any] = {}
    for src, dst, convert in _GENERATION_PARAMS:
        if body.get(src) is not None and dst not in cfg:
            cfg[dst] = convert(body[src])
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") in ("json_object", "json_schema"):
        cfg["responseMimeType"] = "application/json"
        schema = (fmt.get("json_schema") or {}).get("schema")
        if fmt["type"] == "json_schema" and isinstance(schema, dict):
            cfg["responseSchema"] = clean_schema(schema)
    thinking = _thinking_config(body)
    if thinking:
        cfg["thinkingConfig"] = thinking
    return cfg


def _tools(body: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    decls: list[dict[str, Any]] = []
    for tool in body.get("tools") or ():
        fn = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(fn, dict) or tool.get("type", "function") != "function":
            continue
        decl: dict[str, Any] = {"name": fn.get("name", "")}
        if fn.get("description"):
            decl["description"] = fn["description"]
        params = clean_schema(fn["parameters"]) if isinstance(fn.get("parameters"), dict) else {}
        if params.get("properties"):  # a function without arguments declares no schema
            decl["parameters"] = params
        decls.append(decl)
    choice = body.get("tool_choice")
    config: dict[str, Any] | None = None
    if isinstance(choice, str) and choice in _TOOL_MODES:
        config = {"mode": _TOOL_MODES[choice]}
    elif isinstance(choice, dict) and (choice.get("function") or {}).get("name"):
        config = {"mode": "ANY", "allowedFunctionNames": [choice["function"]["name"]]}
    tools = [{"functionDeclarations": decls}] if decls else []
    return tools, ({"functionCallingConfig": config} if config and decls else None)


def build_body(body: dict[str, Any]) -> dict[str, Any]:
    """The generateContent request body for an OpenAI request; shared with Vertex."""
    contents, system = build_contents(body.get("messages") or ())
    out: dict[str, Any] = {"contents": contents}
    if system:
        out["systemInstruction"] = system
    tools, tool_config = _tools(body)
    if tools:
        out["tools"] = tools
    if tool_config:
        out["toolConfig"] = tool_config
    cfg = _generation_config(body)
    if cfg:
        out["generationConfig"] = cfg
    return out
