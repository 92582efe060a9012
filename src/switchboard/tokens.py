"""Offline token estimates (no vocabulary downloads): conservative for holds, fair for counting."""

from __future__ import annotations

import math
from typing import Any

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


def conservative_prompt_tokens(messages: list[Any], tools: Any = None) -> int:
    """An over-estimate for the spending hold: real tokenizers rarely exceed this."""
    return math.ceil(prompt_tokens(messages, tools) * 1.25) + 16
