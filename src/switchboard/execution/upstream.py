"""The pooled HTTP client every dialect's request goes through."""

from __future__ import annotations

import aiohttp

from switchboard.dialects.base import UpstreamRequest


class UpstreamClient:
    def __init__(self, pool_size: int = 1000) -> None:
        self._pool_size = pool_size
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=self._pool_size, limit_per_host=0, ttl_dns_cache=300, keepalive_timeout=30
        )
        # Timeouts are applied per phase by the executor (first token, idle stream).
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=None),
            auto_decompress=True,
            skip_auto_headers=("User-Agent",),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, req: UpstreamRequest, connect_timeout: float) -> aiohttp.ClientResponse:
        assert self._session is not None, "UpstreamClient.start() was not called"
        timeout = aiohttp.ClientTimeout(total=None, connect=None, sock_connect=connect_timeout)
        return await self._session.request(
            req.method, req.url, data=req.body, headers=req.headers, timeout=timeout
        )
