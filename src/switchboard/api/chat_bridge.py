"""Runs a chat body through the chat path for the other inbound APIs (/responses, /messages).

Routing, limits, the hold, settlement and the generation record are the chat endpoint's
own: the body goes to the same chat service, and its answer comes back as dicts, the
completion or the chunks exactly as a chat client would have read them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from switchboard.execution.service import ChatCall
from switchboard.web import Request

if TYPE_CHECKING:
    import asyncio

    from switchboard.api.chat import ChatHandler


@dataclass(slots=True)
class ChatResult:
    headers: list[tuple[bytes, bytes]]
    body: dict[str, Any] | None = None  # non-streaming: the chat.completion
    # streaming: chunks as dicts, None for a keep-alive tick; ends after the usage chunk,
    # or after one chunk carrying a top-level "error"
    events: AsyncIterator[dict[str, Any] | None] | None = None
    disconnect: asyncio.Future[None] | None = field(default=None)

    def header(self, name: bytes) -> str | None:
        for k, v in self.headers:
            if k == name:
                return v.decode()
        return None


def _with_bearer(req: Request, token: str) -> Request:
    """`req` as if its key had come as `Authorization: Bearer` (Anthropic's x-api-key)."""
    scope = dict(req.scope)
    scope["headers"] = [(k, v) for k, v in scope["headers"] if k.lower() != b"authorization"]
    scope["headers"].append((b"authorization", f"Bearer {token}".encode("latin-1")))
    return Request(scope, req.receive)


async def run_chat(chat: ChatHandler, req: Request, body: dict[str, Any],
                   token: str | None = None) -> ChatResult:
    """Run `body` through the chat service for the caller of `req`; `token` stands in for a
    key sent another way (Anthropic's x-api-key). Errors before an answer starts raise
    GatewayError."""
    svc = chat.svc
    key = await svc.auth.inference_key(req if token is None else _with_bearer(req, token))
    if svc.presets is not None:  # "model": "@preset/<slug>"
        body = await svc.presets.resolve(key, body)
    result = await svc.chat.run(ChatCall(key, body, req.headers, req.receive))
    return ChatResult(result.headers, body=result.body, events=result.events,
                      disconnect=result.disconnect)
