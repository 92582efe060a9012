"""The OpenAI embeddings request, parsed once, and its answer, shaped (free of I/O)."""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass
from typing import Any

from switchboard.dialects.embeddings import EmbedOptions, Inputs
from switchboard.errors import bad_request


@dataclass(frozen=True, slots=True)
class EmbeddingRequest:
    model: str
    models: tuple[str, ...]
    inputs: Inputs
    tokens_given: bool  # inputs are token arrays
    encoding: str  # "float" | "base64"
    options: EmbedOptions
    provider: Any  # OpenRouter provider preferences, parsed by routing


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _inputs(raw: Any) -> tuple[Inputs, bool]:
    if isinstance(raw, str):
        if not raw:
            raise bad_request("input must not be empty", "input")
        return [raw], False
    if not isinstance(raw, list) or not raw:
        raise bad_request("input must be a string, a list of strings, or token arrays", "input")
    if all(isinstance(x, str) for x in raw):
        if any(not x for x in raw):
            raise bad_request("input must not contain empty strings", "input")
        return list(raw), False
    if all(_is_int(x) for x in raw):
        return [list(raw)], True
    if all(isinstance(x, list) and x and all(_is_int(t) for t in x) for x in raw):
        return [list(x) for x in raw], True
    raise bad_request("input must be a string, a list of strings, a token array or a list of "
                      "token arrays", "input")


def parse_embedding_request(body: Any) -> EmbeddingRequest:
    if not isinstance(body, dict):
        raise bad_request("request body must be a JSON object")
    model = body.get("model")
    models = body.get("models") or []
    if not isinstance(model, str) or not model:
        if not models:
            raise bad_request("model is required", "model")
        model = ""
    if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
        raise bad_request("models must be a list of model ids", "models")
    inputs, tokens = _inputs(body.get("input"))
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise bad_request("encoding_format must be 'float' or 'base64'", "encoding_format")
    dims = body.get("dimensions")
    if dims is not None and (not _is_int(dims) or dims < 1):
        raise bad_request("dimensions must be a positive integer", "dimensions")
    user = body.get("user")
    if user is not None and not isinstance(user, str):
        raise bad_request("user must be a string", "user")
    input_type = body.get("input_type")
    if input_type is not None and not isinstance(input_type, str):
        raise bad_request("input_type must be a string", "input_type")
    known = {"model", "models", "input", "encoding_format", "dimensions", "user",
             "input_type", "provider", "route", "usage", "session_id", "trace", "debug"}
    extra = {k: v for k, v in body.items() if k not in known}
    return EmbeddingRequest(model, tuple(models), inputs, tokens, encoding,
                            EmbedOptions(dims, user, input_type, extra), body.get("provider"))


def encode(vector: list[float], encoding: str) -> list[float] | str:
    if encoding == "float":
        return vector
    # OpenAI's base64 form: little-endian float32, which its SDK decodes by default
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


def embedding_list(vectors: list[list[float]], encoding: str, gen_id: str, model: str,
                   provider: str, usage: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": gen_id, "object": "list", "model": model, "provider": provider,
        "data": [{"object": "embedding", "index": i, "embedding": encode(v, encoding)}
                 for i, v in enumerate(vectors)],
        "usage": usage,
    }
