"""Serves the console's files from memory (read once at start) and one catalog helper.

No build step: the files in static/ are what the browser gets. Nothing here touches the
API's request path; the console talks to the public API like any other client.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING

import orjson

from switchboard.errors import GatewayError
from switchboard.web import Receive, Request, Send

if TYPE_CHECKING:
    from switchboard.app import Services

_TYPES = {
    ".html": b"text/html; charset=utf-8",
    ".css": b"text/css; charset=utf-8",
    ".js": b"text/javascript; charset=utf-8",
    ".svg": b"image/svg+xml",
    ".json": b"application/json",
}
# everything the console loads comes from this origin; no inline script, no third parties
_SECURITY = [
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


@dataclass(slots=True)
class StaticResponse:
    status: int
    body: bytes
    content_type: bytes
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)

    async def send(self, send: Send, receive: Receive) -> None:
        headers = [(b"content-type", self.content_type),
                   (b"content-length", str(len(self.body)).encode()), *_SECURITY,
                   *self.headers]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


@dataclass(frozen=True, slots=True)
class _File:
    body: bytes
    content_type: bytes
    etag: bytes


def load_files() -> dict[str, _File]:
    files: dict[str, _File] = {}
    root = resources.files("switchboard.console").joinpath("static")
    for entry in root.iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1]
        if entry.is_file() and suffix in _TYPES:
            body = entry.read_bytes()
            etag = b'"' + hashlib.sha256(body).hexdigest()[:20].encode() + b'"'
            files[entry.name] = _File(body, _TYPES[suffix], etag)
    return files


class ConsoleHandler:
    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self.files = load_files()

    def _serve(self, req: Request, name: str) -> StaticResponse:
        f = self.files.get(name)
        if f is None:
            raise GatewayError(404, f"no console file '{name}'", "not_found")
        # revalidated on every load, so a new release shows at once; unchanged files are 304
        headers = [(b"etag", f.etag), (b"cache-control", b"no-cache")]
        if req.headers.get("if-none-match", "").encode() == f.etag:
            return StaticResponse(304, b"", f.content_type, headers)
        return StaticResponse(200, f.body, f.content_type, headers)

    async def index(self, req: Request) -> StaticResponse:
        return self._serve(req, "index.html")

    async def asset(self, req: Request) -> StaticResponse:
        return self._serve(req, req.path_params["name"])

    async def model_providers(self, req: Request) -> StaticResponse:
        """{model id: [provider slugs]}: /models names no providers, the Models page
        filters by them."""
        data = {m.id: sorted({e.provider for e in m.endpoints})
                for m in self.svc.catalog.models.values()}
        return StaticResponse(200, orjson.dumps({"data": data}), _TYPES[".json"])
