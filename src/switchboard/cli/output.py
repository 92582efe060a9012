"""Terminal output: consoles that stay plain when piped, and number formatting."""

from __future__ import annotations

import json
import os
import sys
from decimal import Decimal, InvalidOperation
from typing import Any

from rich.console import Console

# Piped output has no terminal width; rich would cut tables at 80 columns. Wide enough
# that ids and prices survive, unless the user set COLUMNS themselves.
_PIPE_WIDTH = 200


def stdout_console() -> Console:
    """Colour and width only on a terminal: rich's force_terminal=None checks isatty,
    and honours NO_COLOR / FORCE_COLOR / COLUMNS.  Markup is off: model names and
    prompts may contain [brackets]."""
    width = None
    if not sys.stdout.isatty() and "COLUMNS" not in os.environ:
        width = _PIPE_WIDTH
    return Console(width=width, markup=False, highlight=False, emoji=False,
                   force_terminal=None)


def stderr_console() -> Console:
    """Messages and stats: one logical line each, wrapped by the terminal, not by rich."""
    return Console(stderr=True, markup=False, highlight=False, emoji=False,
                   force_terminal=None, soft_wrap=True)


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def per_million(per_token: Any) -> str:
    """OpenRouter prices are USD per token as strings ("0.0000033"): show $ per 1M tokens.

    Decimal keeps "0.0000033" × 1e6 exactly 3.3; "-1" is OpenRouter's "varies" (auto router).
    """
    value = _decimal(per_token)
    if value is None:
        return "-"
    if value < 0:
        return "varies"
    if value == 0:
        return "free"
    return usd(value * 1_000_000)


def usd(value: Any, places: int = 2) -> str:
    """Dollars with at least `places` decimals and no more than the value needs (tiny costs
    of one request are fractions of a cent, and rounding them to $0.00 hides them)."""
    amount = _decimal(value)
    if amount is None:
        return "-"
    if amount == 0:
        return "$0"
    sign = "-" if amount < 0 else ""
    text = f"{abs(amount):.10f}".rstrip("0")
    whole, _, frac = text.partition(".")
    frac = frac.ljust(places, "0")
    return f"{sign}${int(whole):,}.{frac}"


def count(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return "-"
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return str(value)


def seconds(ms: Any) -> str:
    if ms is None:
        return "-"
    try:
        return f"{float(ms) / 1000:.2f}s"
    except (TypeError, ValueError):
        return str(ms)


def print_json(obj: Any) -> None:
    """Plain JSON on stdout: no colour, whatever the terminal, so `| jq` always works."""
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()
