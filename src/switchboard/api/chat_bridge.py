"""Runs a chat body through the chat path for the other inbound APIs (/responses, /messages).

Routing, limits, the hold, settlement and the generation record are the chat endpoint's
own: the body is handed to the same handler, and its answer comes back as dicts, the
completion or the chunks exactly as a chat client would have read them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from switchboard.errors import GatewayError
from switchboard.web import Receive, Request, Response, StreamResponse

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


def _replay(body: bytes, receive: Receive) -> Receive:
    """The request's receive channel with `body` as its content; later calls (disconnect
    watching) go to the real channel."""
    sent = False

    async def receive_again() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return receive_again


def _error_of(response: Response) -> GatewayError:
    try:
        err = orjson.loads(response.body)["error"]
        headers = {k.decode(): v.decode() for k, v in response.headers}
        return GatewayError(response.status, str(err.get("message")), None,
                            dict(err.get("metadata") or {}), headers)
    except Exception:
        return GatewayError(response.status, "request failed", "internal_error")


async def _chunks(events: AsyncIterator[bytes]) -> AsyncIterator[dict[str, Any] | None]:
    try:
        async for data in events:
            for frame in data.split(b"\n\n"):
                if frame.startswith(b":"):
                    yield None
                elif frame.startswith(b"data: "):
                    payload = frame[6:]
                    if payload == b"[DONE]":
                        return
                    yield orjson.loads(payload)
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()


async def run_chat(chat: ChatHandler, req: Request, body: dict[str, Any],
                   token: str | None = None) -> ChatResult:
    """Run `body` as POST /chat/completions for the caller of `req`; `token` stands in
    for a key sent another way (Anthropic's x-api-key). Errors before an answer starts
    raise GatewayError."""
    scope = dict(req.scope)
    headers = [(k, v) for k, v in scope["headers"]
               if k.lower() not in (b"content-length", b"authorization")]
    if token is None:
        token = req.bearer()
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode("latin-1")))
    scope["headers"] = headers
    inner = Request(scope, _replay(orjson.dumps(body), req.receive))
    response = await chat.chat(inner)
    if isinstance(response, StreamResponse):
        return ChatResult(response.headers, events=_chunks(response.events),
                          disconnect=response.disconnect)
    if response.status != 200:
        raise _error_of(response)
    return ChatResult(response.headers, body=orjson.loads(response.body))
