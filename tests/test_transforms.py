"""middle-out: drop messages from the middle until the prompt fits, keeping the ends."""

from __future__ import annotations

from switchboard.tokens import prompt_tokens
from switchboard.transforms import apply_middle_out


def conversation(n: int, size: int = 400) -> list[dict[str, str]]:
    msgs = [{"role": "system", "content": "be brief"}]
    for i in range(n):
        role = "user" if i % 2 == 0 else "assistant"
        msgs.append({"role": role, "content": f"m{i} " + "x" * size})
    return msgs


def test_fits_within_context_keeping_system_first_and_latest() -> None:
    msgs = conversation(40)
    body = {"messages": msgs}
    out = apply_middle_out(body, msgs, ("middle-out",), 2000, 100)
    kept = out["messages"]
    assert prompt_tokens(kept) <= 2000 - 100
    assert kept[0] == msgs[0]  # the system prompt
    assert msgs[1] in kept  # the first message
    assert kept[-1] == msgs[-1]  # the latest
    assert len(kept) < len(msgs)
    assert body["messages"] is msgs  # the request itself is not mutated


def test_default_on_only_for_small_contexts() -> None:
    msgs = conversation(40)
    assert apply_middle_out({"messages": msgs}, msgs, None, 8192, None)["messages"] == msgs
    small = apply_middle_out({"messages": msgs}, msgs, None, 2048, None)["messages"]
    assert len(small) < len(msgs)
    big = apply_middle_out({"messages": msgs}, msgs, None, 100_000, None)["messages"]
    assert big == msgs


def test_explicitly_off_with_empty_transforms() -> None:
    msgs = conversation(40)
    assert apply_middle_out({"messages": msgs}, msgs, (), 2048, None)["messages"] == msgs
