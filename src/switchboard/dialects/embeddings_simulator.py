"""Offline embeddings for `switchboard/embed`: deterministic unit vectors from a hash."""

from __future__ import annotations

import hashlib
import math
import struct

import orjson

from switchboard.catalog.types import ProviderInfo
from switchboard.dialects.base import UpstreamError, UpstreamRequest
from switchboard.dialects.embeddings import Embedded, EmbedOptions, Inputs

DEFAULT_DIMENSIONS = 256


def vector(text: str, dimensions: int) -> list[float]:
    raw = b""
    counter = 0
    while len(raw) < dimensions * 4:
        raw += hashlib.sha256(f"{counter}:{text}".encode()).digest()
        counter += 1
    values = [v / 2**31 for v in struct.unpack(f"<{dimensions}i", raw[:dimensions * 4])]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


class SimulatorEmbeddings:
    takes_tokens = True
    local = True  # answered in process: no HTTP request is made

    def build_request(self, provider: ProviderInfo, upstream_model: str, inputs: Inputs,
                      options: EmbedOptions) -> UpstreamRequest:
        body = {"inputs": inputs, "dimensions": options.dimensions or DEFAULT_DIMENSIONS}
        return UpstreamRequest("simulator:embed", {}, orjson.dumps(body))

    def embed(self, request: UpstreamRequest) -> Embedded:
        body = orjson.loads(request.body)
        texts = [t if isinstance(t, str) else " ".join(map(str, t)) for t in body["inputs"]]
        tokens = sum(max(1, len(t) // 4) if isinstance(t, str) else 0 for t in texts)
        return Embedded([vector(t, body["dimensions"]) for t in texts], tokens)

    def parse_response(self, data: bytes) -> Embedded:
        raise NotImplementedError("the simulator answers in process")

    def parse_error(self, status: int, data: bytes, headers: dict[str, str]) -> UpstreamError:
        return UpstreamError(status, "simulated failure", "provider_error")
