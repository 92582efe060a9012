"""The pooled HTTP client every dialect's request goes through, set up from the settings:
the config's `upstream:` limits, each provider's `tls:`, and the environment's proxies."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from switchboard.catalog.types import ProviderInfo, ProviderTLS
from switchboard.dialects.base import UpstreamRequest
from switchboard.execution.http1 import HTTP1Client, Response
from switchboard.execution.proxy import ProxySettings
from switchboard.execution.transport import MIB, TransportLimits

if TYPE_CHECKING:
    from switchboard.settings import Settings

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _filled(url: str, options: Mapping[str, object]) -> str:
    return _PLACEHOLDER.sub(lambda m: str(options.get(m.group(1), m.group(0))), url)


def origin_tls(providers: Iterable[ProviderInfo]) -> dict[tuple[str, str, int], ProviderTLS]:
    """Each provider's `tls`, keyed by the origin of its base URL (placeholders such as
    Azure's {resource} filled from its options), which is where its requests go."""
    out: dict[tuple[str, str, int], ProviderTLS] = {}
    for p in providers:
        if p.tls is None or not p.base_url:
            continue
        url = _filled(p.base_url, p.options)
        try:
            parts = urlsplit(url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            continue
        if parts.scheme == "https" and parts.hostname:
            out[(parts.scheme, parts.hostname, port)] = p.tls
    return out


class UpstreamClient:
    def __init__(
        self,
        limits: TransportLimits | None = None,
        proxies: ProxySettings | None = None,
        tls_by_origin: Mapping[tuple[str, str, int], ProviderTLS] | None = None,
    ) -> None:
        self.limits = limits or TransportLimits()
        self.proxies = proxies or ProxySettings()
        self.tls_by_origin = dict(tls_by_origin or {})
        self._client: HTTP1Client | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> UpstreamClient:
        conf = settings.file.upstream
        limits = TransportLimits(
            max_body_bytes=int(conf.max_body_mb * MIB),
            max_line_bytes=int(conf.max_line_kb * 1024),
            max_connections_per_origin=conf.max_connections_per_origin,
            keepalive_expiry_s=conf.keepalive_expiry_s,
        )
        return cls(limits, settings.proxies, origin_tls(settings.catalog.providers.values()))

    async def start(self) -> None:
        self._client = HTTP1Client(self.limits, self.proxies, self.tls_by_origin)

    @property
    def http(self) -> HTTP1Client:
        assert self._client is not None, "UpstreamClient.start() was not called"
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def send(
        self, req: UpstreamRequest, connect_timeout: float, tls: ProviderTLS | None = None
    ) -> Response:
        assert self._client is not None, "UpstreamClient.start() was not called"
        return await self._client.request(
            req.method, req.url, req.headers, req.body, connect_timeout, tls)
