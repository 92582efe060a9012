"""SSL contexts for upstream connections: the system's by default, a provider's own on request.

Building a context reads the CA bundle from disk (milliseconds), so each distinct setting
is built once per client and shared by every connection that uses it.
"""

from __future__ import annotations

import ssl

from switchboard.catalog.types import ProviderTLS


def build_context(tls: ProviderTLS | None) -> ssl.SSLContext:
    if tls is None:
        return ssl.create_default_context()
    ctx = ssl.create_default_context(cafile=tls.ca_file)
    if tls.cert_file:
        ctx.load_cert_chain(tls.cert_file, tls.key_file)
    if not tls.verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


class TLSContexts:
    def __init__(self) -> None:
        self._built: dict[ProviderTLS | None, ssl.SSLContext] = {}

    def get(self, tls: ProviderTLS | None) -> ssl.SSLContext:
        ctx = self._built.get(tls)
        if ctx is None:
            ctx = self._built[tls] = build_context(tls)
        return ctx
