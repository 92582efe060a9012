"""Parses a chat request once, at the door, into the typed fields the gateway acts on.

The body is checked against the declared model in `chat_schema.py` (types,
ranges, sizes, counts) and its nesting depth before routing, holds or any
upstream call, so a malformed request is a 400 naming the field and never
reaches a request builder (where it would look like a provider failure).
Everything else in the body is carried through untouched to OpenAI-compatible
upstreams.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from switchboard.api.chat_schema import CHAT_BODY
from switchboard.api.params import used_parameters
from switchboard.api.validation import check_depth, to_bad_request
from switchboard.errors import bad_request

_OFF_LOOP_MESSAGES = 1_000


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


def validate_chat_body(body: Any) -> dict[str, Any]:
    """The door: a 400 naming the field for anything the declared model refuses."""
    if not isinstance(body, dict):
        raise bad_request("request body must be a JSON object")
    check_depth(body)
    try:
        CHAT_BODY.validate_python(body)
    except ValidationError as exc:
        raise to_bad_request(exc) from None
    return body


def _web_max_results(plugins: list[Any]) -> int:
    for p in plugins:
        if p.get("id") == "web":
            n = p.get("max_results")
            return 5 if n is None else int(n)
    return 5


async def parse_chat_request_async(raw: Any) -> ChatRequest:
    """`parse_chat_request`, on a worker thread for long conversations, so that checking
    10,000 messages does not hold up every other request on the event loop."""
    messages = raw.get("messages") if isinstance(raw, dict) else None
    if isinstance(messages, list) and len(messages) > _OFF_LOOP_MESSAGES:
        return await asyncio.to_thread(parse_chat_request, raw)
    return parse_chat_request(raw)


def parse_chat_request(raw: Any) -> ChatRequest:
    body = validate_chat_body(raw)
    models = body.get("models")
    model = body.get("model")
    if model is None and models:
        model = models[0]
        models = models[1:]
    if not model:
        raise bad_request("model is required and must be a string (e.g. 'openai/gpt-5')", "model")
    transforms = body.get("transforms")
    plugins = body.get("plugins") or []
    plugin_ids = {p["id"] for p in plugins}
    if "context-compression" in plugin_ids or "middle-out" in plugin_ids:
        transforms = [*(transforms or []), "middle-out"]
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    return ChatRequest(
        body=body,
        model=model,
        models=tuple(m for m in (models or ()) if m != model),
        route=body.get("route"),
        provider=body.get("provider"),
        messages=body["messages"],
        stream=bool(body.get("stream")),
        max_tokens=max_tokens,
        used_parameters=used_parameters(body),
        transforms=tuple(transforms) if transforms is not None else None,
        web_plugin="web" in plugin_ids,
        web_max_results=_web_max_results(plugins),
    )
