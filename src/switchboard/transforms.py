"""The middle-out transform: drop messages from the middle until the prompt fits the context.

Linear in the number of messages: each message is counted once and the running total
is updated as the middle is removed (re-counting the whole prompt after each removal
made 10,000 messages take 40 s on the event loop). Large prompts can be trimmed on a
worker thread with `middle_out`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from switchboard.tokens import prompt_tokens

_DEFAULT_ON_CONTEXT = 8192  # OpenRouter applies middle-out by default at or below this context
_OFF_LOOP_MESSAGES = 2_000  # above this many messages, `middle_out` trims on a thread
_BASE = prompt_tokens([])  # the per-prompt overhead prompt_tokens adds once


def _enabled(transforms: tuple[str, ...] | None, context_length: int) -> bool:
    if transforms is not None:
        return "middle-out" in transforms
    return context_length <= _DEFAULT_ON_CONTEXT


def apply_middle_out(
    body: dict[str, Any], messages: list[dict[str, Any]], transforms: tuple[str, ...] | None,
    context_length: int, max_tokens: int | None,
) -> dict[str, Any]:
    if not _enabled(transforms, context_length):
        return body
    budget = context_length - (max_tokens or 0)
    sizes = [prompt_tokens([m]) - _BASE for m in messages]
    total = _BASE + sum(sizes)
    if total <= budget:
        return body
    # keep the system prompt, the first and the latest messages; drop from the middle outwards
    system = [i for i in range(1, len(messages)) if _is_system(messages[i])]
    rest = [i for i in range(1, len(messages)) if not _is_system(messages[i])]
    lo = hi = 0  # rest[lo:hi] is the removed block; it grows around the middle
    while len(rest) - (hi - lo) > 1 and total > budget:
        left = len(rest) - (hi - lo)
        at = (left - 1) // 2  # the middle of what is left, as the old list-deleting loop chose
        if hi == lo:
            lo, hi, gone = at, at + 1, at
        elif at < lo:
            lo, gone = lo - 1, lo - 1
        else:
            gone, hi = hi, hi + 1
        total -= sizes[rest[gone]]
    keep = [0, *system, *rest[:lo], *rest[hi:]] if messages else []
    out = dict(body)
    out["messages"] = [messages[i] for i in keep]
    return out


async def middle_out(
    body: dict[str, Any], messages: list[dict[str, Any]], transforms: tuple[str, ...] | None,
    context_length: int, max_tokens: int | None,
) -> dict[str, Any]:
    """`apply_middle_out`, on a worker thread when the conversation is long."""
    if len(messages) <= _OFF_LOOP_MESSAGES or not _enabled(transforms, context_length):
        return apply_middle_out(body, messages, transforms, context_length, max_tokens)
    return await asyncio.to_thread(
        apply_middle_out, body, messages, transforms, context_length, max_tokens)


def _is_system(message: Any) -> bool:
    return isinstance(message, dict) and message.get("role") in ("system", "developer")
