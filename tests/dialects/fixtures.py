"""Recorded provider interactions (VCR cassettes in tests/fixtures/recorded) for replay tests.

Three cassette formats live there (see SOURCES.md): vcrpy (`body.string`, sometimes gzip bytes),
pydantic-ai (`parsed_body` for JSON, `body.string` for SSE) and go-vcr (`body` string, `code`).
Each becomes one `Interaction` with plain (decompressed) bytes, as an HTTP client would hand
them to a dialect.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import yaml

RECORDED = Path(
    os.environ.get(
        "SWITCHBOARD_RECORDED_FIXTURES",
        Path(__file__).resolve().parents[1] / "fixtures" / "recorded",
    )
)


@dataclass(frozen=True, slots=True)
class Interaction:
    cassette: str  # file name
    number: int  # position in the cassette
    method: str
    url: str
    request: Any  # the request body as JSON when it parses, else the raw text
    status: int
    headers: dict[str, str]  # lower-cased names, first value
    body: bytes  # the response body, decompressed

    @property
    def id(self) -> str:
        return f"{self.cassette.removesuffix('.yaml')}#{self.number}"

    @property
    def is_sse(self) -> bool:
        return self.headers.get("content-type", "").startswith("text/event-stream")

    def json(self) -> Any:
        return orjson.loads(self.body)


def _bytes(value: Any) -> bytes:
    if value is None:
        return b""
    data = value if isinstance(value, bytes) else str(value).encode()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def _body(holder: dict[str, Any]) -> bytes:
    if "parsed_body" in holder:
        return orjson.dumps(holder["parsed_body"])
    body = holder.get("body")
    if isinstance(body, dict):
        if "parsed_body" in body:
            return orjson.dumps(body["parsed_body"])
        body = body.get("string")
    return _bytes(body)


def _headers(raw: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in (raw or {}).items():
        out[name.lower()] = str(value[0] if isinstance(value, list) and value else value)
    return out


def load_cassette(path: Path) -> list[Interaction]:
    data = yaml.safe_load(path.read_text())
    out: list[Interaction] = []
    for number, item in enumerate(data.get("interactions") or []):
        req, resp = item["request"], item["response"]
        raw_request = _body(req)
        try:
            request: Any = orjson.loads(raw_request) if raw_request else None
        except orjson.JSONDecodeError:
            request = raw_request.decode("utf-8", "replace")
        status = resp.get("code") or resp.get("status")  # go-vcr: code; vcrpy: status.code
        if isinstance(status, dict):
            status = status.get("code")
        elif isinstance(status, str):
            status = status.split()[0]
        out.append(Interaction(
            cassette=path.name,
            number=number,
            method=str(req.get("method", "POST")),
            url=str(req.get("uri") or req.get("url") or ""),
            request=request,
            status=int(status or 0),
            headers=_headers(resp.get("headers")),
            body=_body(resp),
        ))
    return out


def recorded(provider: str, path_contains: str = "") -> list[Interaction]:
    """Every recorded interaction of one provider folder whose URL contains `path_contains`."""
    folder = RECORDED / provider
    if not folder.is_dir():
        return []
    return [
        it
        for path in sorted(folder.glob("*.yaml"))
        for it in load_cassette(path)
        if path_contains in it.url
    ]
