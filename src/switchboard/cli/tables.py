"""Rich renderables for API records.  Pure: records in, renderables out.

Every column may fold, so a 40-column terminal wraps cells instead of cutting them.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from rich import box
from rich.table import Table
from rich.text import Text

from switchboard.cli.output import count, per_million, seconds, usd

_STATUS = {0: "ok", -1: "recent errors", -2: "circuit open", -5: "not configured"}


def _table(*columns: str, right: tuple[str, ...] = ()) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for name in columns:
        table.add_column(name, overflow="fold", justify="right" if name in right else "left")
    return table


def models_table(models: list[dict[str, Any]]) -> Table:
    table = _table("id", "context", "prompt $/M", "completion $/M",
                   right=("context", "prompt $/M", "completion $/M"))
    for m in models:
        pricing = m.get("pricing") or {}
        table.add_row(str(m.get("id")), count(m.get("context_length")),
                      per_million(pricing.get("prompt")), per_million(pricing.get("completion")))
    return table


def endpoint_status(status: Any) -> str:
    if not isinstance(status, int):
        return "-"
    return _STATUS.get(status, "ok" if status > 0 else f"degraded ({status})")


def endpoints_table(endpoints: list[dict[str, Any]]) -> Table:
    table = _table("provider", "context", "max out", "prompt $/M", "completion $/M",
                   "quant", "status", right=("context", "max out", "prompt $/M",
                                             "completion $/M"))
    for e in endpoints:
        pricing = e.get("pricing") or {}
        table.add_row(str(e.get("provider_name") or e.get("tag") or "-"),
                      count(e.get("context_length")), count(e.get("max_completion_tokens")),
                      per_million(pricing.get("prompt")),
                      per_million(pricing.get("completion")),
                      str(e.get("quantization") or "-"), endpoint_status(e.get("status")))
    return table


def model_header(model: dict[str, Any]) -> Text:
    arch = model.get("architecture") or {}
    text = Text(str(model.get("name") or model.get("id")), style="bold")
    text.append(f"  {model.get('id')}\n", style="dim")
    if arch.get("modality"):
        text.append(f"modality: {arch['modality']}\n")
    if model.get("description"):
        text.append(str(model["description"]).strip() + "\n")
    return text


def keys_table(keys: list[dict[str, Any]]) -> Table:
    table = _table("hash", "name", "status", "limit", "remaining", "reset", "usage", "created",
                   right=("limit", "remaining", "usage"))
    for k in keys:
        limit = k.get("limit")
        table.add_row(str(k.get("hash")), str(k.get("name") or k.get("label") or "-"),
                      "disabled" if k.get("disabled") else "active",
                      usd(limit) if limit is not None else "none",
                      usd(k.get("limit_remaining")) if limit is not None else "-",
                      str(k.get("limit_reset") or "-"), usd(k.get("usage")),
                      str(k.get("created_at") or "-")[:10])
    return table


def activity_table(rows: list[dict[str, Any]]) -> Table:
    table = _table("date", "model", "provider", "requests", "prompt tok", "completion tok",
                   "usage", right=("requests", "prompt tok", "completion tok", "usage"))
    for r in sorted(rows, key=lambda r: (str(r.get("date")), str(r.get("model")))):
        table.add_row(str(r.get("date") or "-")[:10], str(r.get("model") or "-"),
                      str(r.get("provider_name") or "-"), count(r.get("requests")),
                      count(r.get("prompt_tokens")), count(r.get("completion_tokens")),
                      usd(r.get("usage")))
    return table


def daily_spend(rows: list[dict[str, Any]], until: date | None = None) -> list[tuple[str, Decimal]]:
    """USD per day from the first day with activity to `until`, quiet days included, so the
    chart's rows are evenly spaced in time."""
    per_day: dict[str, Decimal] = defaultdict(Decimal)
    for r in rows:
        day = str(r.get("date") or "")[:10]
        if day:
            per_day[day] += Decimal(str(r.get("usage") or 0))
    if not per_day:
        return []
    first = date.fromisoformat(min(per_day))
    last = max(date.fromisoformat(max(per_day)), until or first)
    days = [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]
    return [(d, per_day.get(d, Decimal(0))) for d in days]


_EIGHTHS = " ▏▎▍▌▋▊▉"


def bar(value: Decimal, top: Decimal, width: int) -> str:
    """A horizontal bar in eighth-of-a-cell steps; any spend at all shows at least ▏."""
    if top <= 0 or value <= 0 or width <= 0:
        return ""
    eighths = max(1, int(value / top * width * 8))
    full, part = divmod(eighths, 8)
    return "█" * full + (_EIGHTHS[part] if part else "")


def spend_chart(days: list[tuple[str, Decimal]], width: int) -> Text:
    labels = [usd(v) for _, v in days]
    label_w = max(len(s) for s in labels)
    bar_w = max(4, width - 8 - label_w)  # "MM-DD " + bar + " " + label, one spare column
    top = max(v for _, v in days)
    text = Text()
    for (day, value), label in zip(days, labels, strict=True):
        text.append(f"{day[5:]:<5} ")  # month-day: a 30-day window never spans a year twice
        text.append(bar(value, top, bar_w).ljust(bar_w), style="cyan")
        text.append(f" {label:>{label_w}}\n")
    return text


def generation_details(g: dict[str, Any]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    fields: list[tuple[str, str]] = [
        ("id", str(g.get("id"))),
        ("model", str(g.get("model") or "-")),
        ("provider", str(g.get("provider_name") or "-")),
        ("tokens", f"{count(g.get('tokens_prompt'))} prompt, "
                   f"{count(g.get('tokens_completion'))} completion"),
        ("cost", usd(g.get("total_cost"))),
        ("latency", seconds(g.get("latency"))),
        ("generation time", seconds(g.get("generation_time"))),
        ("finish reason", str(g.get("finish_reason") or "-")),
        ("streamed", "yes" if g.get("streamed") else "no"),
        ("cancelled", "yes" if g.get("cancelled") else "no"),
        ("app", str(g.get("app_title") or g.get("origin") or "-")),
        ("created", str(g.get("created_at") or "-")),
    ]
    attempts = g.get("provider_responses") or []
    if attempts:
        fields.append(("attempts", "; ".join(_attempt(a) for a in attempts)))
    for name, value in fields:
        table.add_row(name, value)
    return table


def _attempt(a: Any) -> str:
    if not isinstance(a, dict):
        return str(a)
    who = a.get("provider_name") or a.get("provider") or "?"
    return f"{who} {a.get('status', '?')}"
