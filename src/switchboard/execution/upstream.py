"""The pooled HTTP client every dialect's request goes through."""

from __future__ import annotations

from switchboard.dialects.base import UpstreamRequest
from switchboard.execution.http1 import HTTP1Client, Response


class UpstreamClient:
    def __init__(self) -> None:
        self._client: HTTP1Client | None = None

    async def start(self) -> None:
        self._client = HTTP1Client()

    @property
    def http(self) -> HTTP1Client:
        assert self._client is not None, "UpstreamClient.start() was not called"
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def send(self, req: UpstreamRequest, connect_timeout: float) -> Response:
        assert self._client is not None, "UpstreamClient.start() was not called"
        return await self._client.request(
            req.method, req.url, req.headers, req.body, connect_timeout)
