"""Parses a chat request once into the typed fields the gateway acts on.

Everything else in the body is carried through untouched to OpenAI-compatible upstreams.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from switchboard.errors import bad_request

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_NUMBERS = {
    "temperature": (0, 2), "top_p": (0, 1), "frequency_penalty": (-2, 2),
    "presence_penalty": (-2, 2), "repetition_penalty": (0, 2), "min_p": (0, 1), "top_a": (0, 1),
}
_INTS = ("max_tokens", "max_completion_tokens", "n", "seed", "top_k", "top_logprobs")
_PARAM_NAMES = {  # request field -> catalog supported_parameters name
    "max_completion_tokens": "max_tokens", "tools": "tools", "tool_choice": "tool_choice",
    "parallel_tool_calls": "parallel_tool_calls", "response_format": "response_format",
    "temperature": "temperature", "top_p": "top_p", "top_k": "top_k", "stop": "stop",
    "max_tokens": "max_tokens", "seed": "seed", "frequency_penalty": "frequency_penalty",
    "presence_penalty": "presence_penalty", "repetition_penalty": "repetition_penalty",
    "logit_bias": "logit_bias", "logprobs": "logprobs", "top_logprobs": "top_logprobs",
    "min_p": "min_p", "top_a": "top_a", "reasoning": "reasoning",
    "include_reasoning": "include_reasoning",
}


@dataclass(slots=True)
class ChatRequest:
    body: dict[str, Any]
    model: str
    models: tuple[str, ...]
    route: str | None
    provider: Any
    messages: list[dict[str, Any]]
    stream: bool
    max_tokens: int | None
    used_parameters: frozenset[str]
    transforms: tuple[str, ...] | None
    web_plugin: bool
    web_max_results: int = 5


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _check_content(content: Any, where: str) -> None:
    if content is None or isinstance(content, str):
        return
    if not isinstance(content, list):
        raise bad_request(f"{where}.content must be a string or a list of content parts", where)
    for j, part in enumerate(content):
        pw = f"{where}.content[{j}]"
        if not isinstance(part, dict) or not isinstance(part.get("type"), str):
            raise bad_request(f"{pw} must be an object with a 'type'", pw)
        if part["type"] == "text" and not isinstance(part.get("text"), str):
            raise bad_request(f"{pw}.text must be a string", pw)
        if part["type"] == "image_url":
            img = part.get("image_url")
            url = img.get("url") if isinstance(img, dict) else img
            if not isinstance(url, str) or not url:
                raise bad_request(f"{pw}.image_url.url must be a URL or a data URI", pw)


def _check_messages(messages: Any) -> list[dict[str, Any]]:
    if not isinstance(messages, list) or not messages:
        raise bad_request("messages must be a non-empty array of message objects", "messages")
    for i, m in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(m, dict):
            raise bad_request(f"{where} must be an object", where)
        role = m.get("role")
        if role not in _ROLES:
            raise bad_request(
                f"{where}.role must be one of system, developer, user, assistant, tool", where
            )
        _check_content(m.get("content"), where)
        if role == "tool" and not isinstance(m.get("tool_call_id"), str):
            raise bad_request(f"{where}.tool_call_id is required for tool messages", where)
    return messages


def _check_scalars(body: dict[str, Any]) -> None:
    for name, (lo, hi) in _NUMBERS.items():
        if name in body and body[name] is not None:
            v = body[name]
            if not _is_number(v):
                raise bad_request(f"{name} must be a number", name)
            if not lo <= v <= hi:
                raise bad_request(f"{name} must be between {lo} and {hi}", name)
    for name in _INTS:
        if name in body and body[name] is not None:
            v = body[name]
            if not isinstance(v, int) or isinstance(v, bool):
                raise bad_request(f"{name} must be an integer", name)
            if name in ("max_tokens", "max_completion_tokens", "n") and v < 1:
                raise bad_request(f"{name} must be at least 1", name)
    if "stream" in body and not isinstance(body["stream"], bool | None):
        raise bad_request("stream must be a boolean", "stream")
    stop = body.get("stop")
    if stop is not None and not isinstance(stop, str) and not (
        isinstance(stop, list) and all(isinstance(s, str) for s in stop)
    ):
        raise bad_request("stop must be a string or an array of strings", "stop")
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise bad_request("tools must be an array", "tools")
        for i, t in enumerate(tools):
            if not isinstance(t, dict):
                raise bad_request(f"tools[{i}] must be an object", f"tools[{i}]")
            if t.get("type", "function") != "function":
                continue  # server tools (web search, …) are the provider's to check
            fn = t.get("function")
            if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                raise bad_request(f"tools[{i}].function.name is required", f"tools[{i}]")
    fmt = body.get("response_format")
    if fmt is not None and (
        not isinstance(fmt, dict)
        or fmt.get("type") not in ("text", "json_object", "json_schema", "grammar", "python")
    ):
        raise bad_request(
            "response_format.type must be one of text, json_object, json_schema", "response_format"
        )
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema" and not isinstance(
        fmt.get("json_schema"), dict
    ):
        raise bad_request("response_format.json_schema must be an object", "response_format")


def _used_parameters(body: dict[str, Any]) -> frozenset[str]:
    return frozenset(_PARAM_NAMES[k] for k in body if k in _PARAM_NAMES and body[k] is not None)


def _web_max_results(plugins: Any) -> int:
    for p in plugins or ():
        if isinstance(p, dict) and p.get("id") == "web":
            n = p.get("max_results", 5)
            if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 20:
                raise bad_request("plugins[web].max_results must be an integer from 1 to 20",
                                  "plugins")
            return n
    return 5


def parse_chat_request(body: Any) -> ChatRequest:
    if not isinstance(body, dict):
        raise bad_request("request body must be a JSON object")
    models = body.get("models")
    if models is not None and (
        not isinstance(models, list) or not all(isinstance(m, str) for m in models)
    ):
        raise bad_request("models must be an array of model ids", "models")
    model = body.get("model")
    if model is None and models:
        model = models[0]
        models = models[1:]
    if not isinstance(model, str) or not model:
        raise bad_request("model is required and must be a string (e.g. 'openai/gpt-5')", "model")
    route = body.get("route")
    if route is not None and route not in ("fallback", "auto"):
        raise bad_request("route must be 'fallback' or 'auto'", "route")
    messages = _check_messages(body.get("messages"))
    _check_scalars(body)
    transforms = body.get("transforms")
    if transforms is not None and (
        not isinstance(transforms, list) or not all(isinstance(t, str) for t in transforms)
    ):
        raise bad_request("transforms must be an array of strings", "transforms")
    plugins = body.get("plugins")
    if plugins is not None and not isinstance(plugins, list):
        raise bad_request("plugins must be an array of objects", "plugins")
    plugin_ids = {p.get("id") for p in plugins or () if isinstance(p, dict)}
    if "context-compression" in plugin_ids or "middle-out" in plugin_ids:
        transforms = [*(transforms or []), "middle-out"]
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    provider = body.get("provider")
    if provider is not None and not isinstance(provider, dict):
        raise bad_request("provider must be an object", "provider")
    return ChatRequest(
        body=body,
        model=model,
        models=tuple(m for m in (models or ()) if m != model),
        route=route,
        provider=provider,
        messages=messages,
        stream=bool(body.get("stream")),
        max_tokens=max_tokens,
        used_parameters=_used_parameters(body),
        transforms=tuple(transforms) if transforms is not None else None,
        web_plugin="web" in plugin_ids,
        web_max_results=_web_max_results(plugins),
    )
