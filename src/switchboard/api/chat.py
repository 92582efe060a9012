"""POST /chat/completions and /completions: authenticate, read, hand to the chat service."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any

from switchboard.execution.service import ChatCall, ChatResult
from switchboard.web import Request, Response, StreamResponse, json_response, sse

if TYPE_CHECKING:
    from switchboard.app import Services

KEEPALIVE = b": OPENROUTER PROCESSING\n\n"
DONE = b"data: [DONE]\n\n"


class SSEEvents:
    """Chat events as SSE bytes: keep-alive comments, chunks, and `[DONE]` unless the
    stream ended with an in-band error. Closing it closes (and so settles) the stream."""

    def __init__(self, events: Any) -> None:
        self._events = events
        self._gen = self._encode()

    def __aiter__(self) -> SSEEvents:
        return self

    async def __anext__(self) -> bytes:
        return await self._gen.__anext__()

    async def aclose(self) -> None:
        try:
            await self._gen.aclose()
        finally:
            await self._events.aclose()

    async def _encode(self) -> AsyncGenerator[bytes, None]:
        last: dict[str, Any] | None = None
        async for event in self._events:
            if event is None:
                yield KEEPALIVE
                continue
            last = event
            yield sse(event)
        if last is not None and "error" not in last:
            yield DONE


def http_result(result: ChatResult) -> Response | StreamResponse:
    if result.events is not None:
        return StreamResponse(SSEEvents(result.events), result.headers,
                              disconnect=result.disconnect)
    return json_response(200, result.body, result.headers)


class ChatHandler:
    def __init__(self, svc: Services) -> None:
        self.svc = svc

    async def chat(self, req: Request) -> Response | StreamResponse:
        return await self._handle(req, legacy=False)

    async def completions(self, req: Request) -> Response | StreamResponse:
        return await self._handle(req, legacy=True)

    async def _handle(self, req: Request, legacy: bool) -> Response | StreamResponse:
        svc = self.svc
        key = await svc.auth.inference_key(req)
        raw = await req.json(svc.settings.max_body_bytes)
        if svc.presets is not None:  # "model": "@preset/<slug>"
            raw = await svc.presets.resolve(key, raw)
        result = await svc.chat.run(ChatCall(key, raw, req.headers, req.receive, legacy))
        return http_result(result)
