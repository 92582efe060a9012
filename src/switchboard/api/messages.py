"""POST /messages: the Anthropic Messages API inbound, to any model, through the chat path.

Claude Code and the Anthropic SDK authenticate with `x-api-key` and read errors in
Anthropic's shape, so both are honoured here; `anthropic-version` is accepted as is.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import orjson

from switchboard.api.chat_bridge import ChatResult, run_chat
from switchboard.errors import GatewayError
from switchboard.inbound.messages import MessagesStream, error_body, from_completion, to_chat
from switchboard.web import Request, Response, StreamResponse, json_response

if TYPE_CHECKING:
    from switchboard.api.chat import ChatHandler
    from switchboard.app import Services

PING = b'event: ping\ndata: {"type": "ping"}\n\n'


def named(event: str, data: object) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def anthropic_error(err: GatewayError) -> Response:
    headers = [(k.lower().encode(), v.encode()) for k, v in err.headers.items()]
    return json_response(err.status, error_body(err), headers)


async def messages_events(result: ChatResult, model: str) -> AsyncIterator[bytes]:
    assert result.events is not None
    stream = MessagesStream(result.header(b"x-generation-id") or "", model)
    for name, data in stream.start():
        yield named(name, data)
    async for chunk in result.events:
        if chunk is None:
            yield PING  # Anthropic's own keep-alive, which its SDK skips
            continue
        for name, data in stream.feed(chunk):
            yield named(name, data)
        if stream.done:
            return
    for name, data in stream.close():
        yield named(name, data)


def native_model_id(catalog: Any, model: Any) -> Any:
    """Claude Code names models as Anthropic does (`claude-sonnet-4-6`, dated or not): such
    a name means the catalog model an Anthropic endpoint serves under it."""
    if not isinstance(model, str) or "/" in model or catalog.model(model) is not None:
        return model
    names = {model, re.sub(r"-\d{8}$", "", model)}
    for m in catalog.models.values():
        if ":" not in m.id and any(e.model in names and catalog.providers[e.provider].api in (
                "anthropic", "vertex") for e in m.endpoints):
            return m.id
    return model


class MessagesHandler:
    def __init__(self, svc: Services, chat: ChatHandler) -> None:
        self.svc = svc
        self.chat = chat

    async def create(self, req: Request) -> Response | StreamResponse:
        try:
            token = req.bearer() or req.headers.get("x-api-key") or None
            await self.svc.auth.inference_key(req)
            body = await req.json(self.svc.settings.max_body_bytes)
            chat_body = to_chat(body)
            if "model" in chat_body:
                chat_body["model"] = native_model_id(self.svc.catalog, chat_body["model"])
            result = await run_chat(self.chat, req, chat_body, token)
        except GatewayError as err:
            return anthropic_error(err)
        if result.body is not None:
            return json_response(200, from_completion(result.body), result.headers)
        model = str(chat_body.get("model") or "")
        return StreamResponse(messages_events(result, model), result.headers,
                              disconnect=result.disconnect)
