"""The documented maxima for money and counts, and the clamp that keeps a record inside them.

Money is stored as BIGINT pico-dollars, so an account can hold at most about $9.2
million before a 64-bit column overflows; every number that reaches the database is
kept well inside that (README, "Limits"). Token counts go into 32-bit INTEGER columns.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

log = logging.getLogger("switchboard.ledger")

PICO_PER_USD = 10**12
MAX_CHARGE_USD = Decimal(1_000_000)  # one POST /credits/charge
MAX_CREDITS_USD = Decimal(5_000_000)  # an account's credits in total
MAX_KEY_LIMIT_USD = Decimal(1_000_000)  # a key's spending limit
MAX_REQUEST_USD = Decimal(10_000)  # one request's hold or charge
MAX_REQUEST_PICO = int(MAX_REQUEST_USD) * PICO_PER_USD
MAX_COUNT = 2**31 - 1  # tokens, media, milliseconds in one record

# the generation columns that hold counts, and those that hold money
COUNT_COLUMNS = (
    "tokens_prompt", "tokens_completion", "native_tokens_prompt", "native_tokens_completion",
    "native_tokens_reasoning", "native_tokens_cached", "native_tokens_cache_write",
    "num_media_prompt", "latency", "generation_time", "status",
)
MONEY_COLUMNS = ("cost", "provider_cost")


def clamp_int(value: Any, high: int) -> tuple[int | None, bool]:
    """(value within [0, high], whether it had to change); None stays None."""
    if value is None:
        return None, False
    try:
        n = int(value)
    except (TypeError, ValueError, OverflowError):
        return 0, True
    bounded = min(max(n, 0), high)
    return bounded, bounded != n


def bounded_generation(gen_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    """A generation record whose numbers fit their columns; each clamp is logged."""
    out = dict(fields)
    for name in COUNT_COLUMNS + MONEY_COLUMNS:
        if name not in out:
            continue
        high = MAX_REQUEST_PICO if name in MONEY_COLUMNS else MAX_COUNT
        out[name], changed = clamp_int(out[name], high)
        if changed:
            log.warning("generation %s: %s=%r is out of range, recorded as %s (anomaly)",
                        gen_id, name, fields[name], out[name])
    return out
