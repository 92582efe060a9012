"""Bounded integer query parameters for list endpoints (paging)."""

from __future__ import annotations

from switchboard.errors import bad_request
from switchboard.web import Request

MAX_OFFSET = 1_000_000


def query_int(req: Request, name: str, default: int, low: int, high: int) -> int:
    """`?name=` as an integer in [low, high]; anything else is a 400 naming the parameter.
    Only ASCII digits count: str.isdigit() also accepts '²', which int() refuses."""
    raw = req.query.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12 or not low <= int(raw) <= high:
        raise bad_request(f"{name} must be a whole number from {low} to {high}", name)
    return int(raw)
