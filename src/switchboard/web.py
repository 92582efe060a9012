"""Minimal ASGI primitives: the gateway's hot path avoids a framework's per-request overhead."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import orjson

from switchboard.errors import ClientGone, GatewayError

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

JSON_CT = (b"content-type", b"application/json")
SSE_HEADERS = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


BODY_TIMEOUT_S = 60.0
_OFF_LOOP_BYTES = 512 * 1024


def _header_value(raw: bytes) -> str:
    """Header values are UTF-8 as clients send them (`X-Title: 日本`); latin-1 only when not."""
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return raw.decode("latin-1")


class Request:
    __slots__ = ("_query", "headers", "method", "path", "path_params", "receive", "scope")

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.scope = scope
        self.receive = receive
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.headers: dict[str, str] = {
            k.decode("latin-1"): _header_value(v) for k, v in scope["headers"]
        }
        self.path_params: dict[str, str] = {}
        self._query: dict[str, str] | None = None

    @property
    def query(self) -> dict[str, str]:
        if self._query is None:
            qs = self.scope.get("query_string", b"").decode("latin-1")
            self._query = {k: v[-1] for k, v in parse_qs(qs).items()}
        return self._query

    def bearer(self) -> str | None:
        auth = self.headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            return auth[7:].strip() or None
        return None

    async def body(self, limit: int, timeout_s: float = BODY_TIMEOUT_S) -> bytes:
        declared = self.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise GatewayError(413, f"request body exceeds {limit} bytes", "payload_too_large")
        try:
            async with asyncio.timeout(timeout_s):  # a client trickling its body holds a task
                return await self._read(limit)
        except TimeoutError:
            raise GatewayError(408, f"request body not received within {timeout_s:g} s",
                               "timeout") from None

    async def _read(self, limit: int) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            msg = await self.receive()
            if msg["type"] == "http.disconnect":
                raise ClientGone
            part = msg.get("body", b"")
            size += len(part)
            if size > limit:
                raise GatewayError(413, f"request body exceeds {limit} bytes", "payload_too_large")
            chunks.append(part)
            if not msg.get("more_body"):
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def json(self, limit: int) -> Any:
        raw = await self.body(limit)
        if not raw.strip():
            raise GatewayError(400, "request body is empty; expected a JSON object", "bad_request")
        try:
            if len(raw) > _OFF_LOOP_BYTES:  # a large body is parsed without stalling the loop
                return await asyncio.to_thread(orjson.loads, raw)
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise GatewayError(
                400, f"malformed JSON in request body: {exc}", "bad_request"
            ) from None


@dataclass(slots=True)
class Response:
    status: int
    body: bytes
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)

    async def send(self, send: Send, receive: Receive) -> None:
        headers = [JSON_CT, (b"content-length", str(len(self.body)).encode()), *self.headers]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


@dataclass(slots=True)
class StreamResponse:
    """An SSE response; a client disconnect cancels the producer (and so the upstream call)."""

    events: AsyncIterator[bytes]
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    status: int = 200
    disconnect: asyncio.Future[None] | None = None  # an already-running disconnect watcher

    async def send(self, send: Send, receive: Receive) -> None:
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": self.status,
                    "headers": [*SSE_HEADERS, *self.headers],
                }
            )
        except BaseException:
            aclose = getattr(self.events, "aclose", None)
            if aclose is not None:
                await aclose()  # the producer never ran: let it release what it holds
            if self.disconnect is not None:
                self.disconnect.cancel()
            raise
        producer = asyncio.ensure_future(self._pump(send))
        watcher = self.disconnect or asyncio.ensure_future(wait_disconnect(receive))
        try:
            await asyncio.wait({producer, watcher}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not producer.done():
                producer.cancel()  # the client left: stop the upstream read
            watcher.cancel()
            await asyncio.gather(producer, watcher, return_exceptions=True)

    async def _pump(self, send: Send) -> None:
        try:
            async for data in self.events:
                await send({"type": "http.response.body", "body": data, "more_body": True})
        finally:
            aclose = getattr(self.events, "aclose", None)
            if aclose is not None:
                await aclose()
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def wait_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def json_response(
    status: int, obj: Any, headers: list[tuple[bytes, bytes]] | None = None
) -> Response:
    return Response(status, orjson.dumps(obj), headers or [])


def error_response(err: GatewayError) -> Response:
    headers = [(k.lower().encode(), v.encode()) for k, v in err.headers.items()]
    return Response(err.status, orjson.dumps(err.body()), headers)


def sse(obj: Any) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"
