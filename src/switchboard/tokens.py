"""Offline token estimates (no vocabulary downloads): conservative for holds, fair for counting."""

from __future__ import annotations

import math
from typing import Any

import orjson

_PER_MESSAGE = 4
_IMAGE_TOKENS = 1000


def text_tokens(text: str) -> int:
    """About four characters per token for English; CJK text is closer to one per character."""
    if not text:
        return 0
    if text.isascii():
        return -(-len(text) // 4)
    wide = sum(1 for ch in text if ord(ch) > 0x2E7F)
    return math.ceil((len(text) - wide) / 4) + wide


def _content_parts(content: Any) -> tuple[list[str], int]:
    if isinstance(content, str):
        return [content], 0
    texts: list[str] = []
    images = 0
    if isinstance(content, list):
        for part in content:
            if not isinstance(part, dict):
                continue
            if part.get("type") == "text":
                texts.append(str(part.get("text", "")))
            elif part.get("type") in ("image_url", "input_image", "image"):
                images += 1
    return texts, images


def count_images(messages: list[Any]) -> int:
    return sum(_content_parts(m.get("content"))[1] for m in messages if isinstance(m, dict))


def prompt_tokens(messages: list[Any], tools: Any = None) -> int:
    """A fair estimate of prompt tokens, used when an upstream reports none."""
    total = 3
    for m in messages:
        if not isinstance(m, dict):
            continue
        texts, images = _content_parts(m.get("content"))
        total += _PER_MESSAGE + sum(text_tokens(t) for t in texts) + images * _IMAGE_TOKENS
        for call in m.get("tool_calls") or ():
            fn = call.get("function", {}) if isinstance(call, dict) else {}
            total += text_tokens(str(fn.get("name", ""))) + text_tokens(
                str(fn.get("arguments", ""))
            )
    if tools:
        total += text_tokens(str(tools))
    return total


# Per image, an upper bound over the providers' own formulas (OpenAI high detail tops out
# near 1,500 tokens, Claude near 1,600, Gemini at 258 per tile).
_IMAGE_CAP = 2_000


def _bytes(text: str) -> int:
    # a token is at least one byte in every byte-level tokenizer: UTF-8 length bounds
    # the count for every script
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _part_bytes(part: Any) -> tuple[int, int]:
    """(bytes, images) of one content part, counting file and audio payloads whole."""
    if not isinstance(part, dict):
        return _bytes(str(part)), 0
    kind = part.get("type")
    if kind in ("image_url", "input_image", "image"):
        return 0, 1
    if kind == "text":
        return _bytes(str(part.get("text", ""))), 0
    # file, input_audio and anything newer: every string inside may reach the model
    return _bytes(orjson.dumps(part).decode()), 0


def conservative_prompt_tokens(messages: list[Any], tools: Any = None) -> int:
    """An upper bound on prompt tokens for the spending hold, whatever the script or part."""
    total = 16
    for m in messages:
        if not isinstance(m, dict):
            total += _bytes(str(m))
            continue
        total += 8
        content = m.get("content")
        if isinstance(content, str):
            total += _bytes(content)
        elif isinstance(content, list):
            for part in content:
                size, images = _part_bytes(part)
                total += size + images * _IMAGE_CAP
        elif content is not None:
            total += _bytes(orjson.dumps(content).decode())
        for k, v in m.items():
            if k not in ("content", "role"):
                total += _bytes(orjson.dumps(v).decode()) if not isinstance(v, str) else _bytes(v)
    if tools:
        total += _bytes(orjson.dumps(tools).decode())
    return total
