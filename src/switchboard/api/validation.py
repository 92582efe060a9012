"""Shared door checks: nesting depth, and pydantic errors turned into SPEC §3 400s."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from switchboard.errors import GatewayError

MAX_DEPTH = 64  # JSON nesting anywhere in a body; real tool schemas stay far below


def field_path(loc: Sequence[int | str]) -> str:
    """`("messages", 0, "role")` -> `messages[0].role`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def check_depth(value: Any, limit: int = MAX_DEPTH) -> None:
    """Refuse bodies nested deeper than `limit` before anything recurses into them."""
    stack: list[tuple[Any, int, tuple[int | str, ...]]] = [(value, 1, ())]
    while stack:
        node, depth, loc = stack.pop()
        if depth > limit:
            where = field_path(loc[:8]) + ("…" if len(loc) > 8 else "")
            raise GatewayError(400, f"{where or 'body'}: JSON nested deeper than {limit} levels",
                               "bad_request", {"field": field_path(loc[:1]) or "body"})
        if isinstance(node, dict):
            for k, v in node.items():
                if isinstance(v, dict | list):
                    stack.append((v, depth + 1, (*loc, k)))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                if isinstance(v, dict | list):
                    stack.append((v, depth + 1, (*loc, i)))


def to_bad_request(exc: ValidationError) -> GatewayError:
    """The most specific error, naming its field path, as a 400 in SPEC §3's shape.

    For a union (e.g. content: string or parts) pydantic reports one error per member;
    the deepest one is the member the client meant.
    """
    errors = exc.errors(include_url=False, include_input=False)
    best = max(errors, key=lambda e: len(_clean(e["loc"])))
    path = field_path(_clean(best["loc"])) or "body"
    message = best["msg"]
    ctx = best.get("ctx") or {}
    if best["type"] in ("union_tag_invalid", "union_tag_not_found"):
        # a discriminated union (a message's role): name the field and what it may be
        path = f"{path}.{ctx.get('discriminator', '').strip(chr(39))}"
        tags = ctx.get("expected_tags") or ""
        message = f"must be one of {tags}" if tags else "is required"
    elif best["type"] == "missing":
        message = "is required"
    elif best["type"] in ("model_type", "model_attributes_type", "dict_type"):
        message = "must be an object"
    return GatewayError(400, f"{path}: {message}", "bad_request", {"field": path})


_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


def _clean(loc: Sequence[int | str]) -> list[int | str]:
    """The client's field path: without union members ("str", "list[...]", a model's class
    name), our discriminator tags, or the role pydantic inserts after `messages[i]`."""
    out: list[int | str] = []
    for i, p in enumerate(loc):
        if isinstance(p, str) and (
            p in ("str", "int", "float", "bool", "dict", "none") or "[" in p
            or p.startswith(("tool:", "part:", "constrained-"))
            or (p[:1].isupper() and p.isalnum())
            or (p in _ROLES and i >= 2 and loc[i - 2] == "messages")
        ):
            continue
        out.append(p)
    return out
