"""POST /responses: the OpenAI Responses API (stateless), served by the chat path."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from switchboard.api.chat_bridge import ChatResult, run_chat
from switchboard.errors import bad_request
from switchboard.inbound.responses import ResponsesStream, from_completion, to_chat
from switchboard.web import Request, Response, StreamResponse, json_response, sse

if TYPE_CHECKING:
    from switchboard.api.chat import ChatHandler
    from switchboard.app import Services

KEEPALIVE = b": OPENROUTER PROCESSING\n\n"


async def responses_events(result: ChatResult, request: dict[str, Any],
                           model: str) -> AsyncIterator[bytes]:
    assert result.events is not None
    gen_id = result.header(b"x-generation-id") or ""
    stream = ResponsesStream(request, gen_id, model, int(time.time()))
    for ev in stream.start():
        yield sse(ev)
    async for chunk in result.events:
        if chunk is None:
            yield KEEPALIVE
            continue
        for ev in stream.feed(chunk):
            yield sse(ev)
        if stream.done:  # an in-band error ended it
            return
    for ev in stream.close():
        yield sse(ev)
    yield b"data: [DONE]\n\n"


class ResponsesHandler:
    def __init__(self, svc: Services, chat: ChatHandler) -> None:
        self.svc = svc
        self.chat = chat

    async def create(self, req: Request) -> Response | StreamResponse:
        await self.svc.auth.inference_key(req)  # a bad key fails before the body is read
        body = await req.json(self.svc.settings.max_body_bytes)
        chat_body = to_chat(body)
        return await self.run(req, body, chat_body)

    async def run(self, req: Request, body: dict[str, Any],
                  chat_body: dict[str, Any]) -> Response | StreamResponse:
        if not isinstance(chat_body.get("model"), str) and not chat_body.get("models"):
            raise bad_request("model is required", "model")
        result = await run_chat(self.chat, req, chat_body)
        if result.body is not None:
            return json_response(200, from_completion(result.body, body), result.headers)
        model = str(chat_body.get("model") or "")
        return StreamResponse(responses_events(result, body, model), result.headers,
                              disconnect=result.disconnect)
