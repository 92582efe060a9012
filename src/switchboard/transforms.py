"""The middle-out transform: drop messages from the middle until the prompt fits the context."""

from __future__ import annotations

from typing import Any

from switchboard.tokens import prompt_tokens

_DEFAULT_ON_CONTEXT = 8192  # OpenRouter applies middle-out by default at or below this context


def apply_middle_out(
    body: dict[str, Any], messages: list[dict[str, Any]], transforms: tuple[str, ...] | None,
    context_length: int, max_tokens: int | None,
) -> dict[str, Any]:
    enabled = "middle-out" in transforms if transforms is not None else (
        context_length <= _DEFAULT_ON_CONTEXT)
    budget = context_length - (max_tokens or 0)
    if not enabled or prompt_tokens(messages) <= budget:
        return body
    head = [m for m in messages[:1]]
    system = [m for m in messages if m.get("role") in ("system", "developer") and m not in head]
    rest = [m for m in messages[1:] if m not in system]
    # keep the system prompt, the first and the latest messages; drop from the middle outwards
    while len(rest) > 1 and prompt_tokens(head + system + rest) > budget:
        del rest[(len(rest) - 1) // 2]
    kept = head + system + rest
    out = dict(body)
    out["messages"] = kept
    return out
