"""Rich renderables for API records.  Pure: records in, renderables out.

On a narrow terminal the least useful columns go first (`Col.keep`), and what is left
folds instead of being cut, so 40 columns still reads.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from rich import box
from rich.table import Table
from rich.text import Text

from switchboard.cli.output import count, per_million, seconds, usd

_STATUS = {0: "ok", -1: "recent errors", -2: "circuit open", -5: "not configured"}
ALWAYS = 9
_GAP = 3  # SIMPLE_HEAD, no edge: one pad, a blank divider, one pad between columns


@dataclass(frozen=True, slots=True)
class Col:
    name: str
    right: bool = False
    keep: int = ALWAYS  # lower is dropped sooner when the width runs out


def fitted(cols: Sequence[Col], rows: Sequence[Sequence[str]], width: int | None) -> Table:
    """A table of the columns that fit `width`, dropping low-`keep` columns first."""
    natural = [max([len(c.name), *(len(r[i]) for r in rows)]) for i, c in enumerate(cols)]
    shown = list(range(len(cols)))

    def needed() -> int:
        return sum(natural[i] for i in shown) + _GAP * (len(shown) - 1)

    for i in sorted(shown, key=lambda i: cols[i].keep):
        if width is None or needed() <= width:
            break
        if cols[i].keep < ALWAYS:
            shown.remove(i)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for i in shown:
        table.add_column(cols[i].name, overflow="fold",
                         justify="right" if cols[i].right else "left")
    for row in rows:
        table.add_row(*(row[i] for i in shown))
    return table


def models_table(models: list[dict[str, Any]], width: int | None = None) -> Table:
    cols = [Col("id"), Col("context", True, 1), Col("prompt $/M", True),
            Col("completion $/M", True)]
    rows = [[str(m.get("id")), count(m.get("context_length")),
             per_million((m.get("pricing") or {}).get("prompt")),
             per_million((m.get("pricing") or {}).get("completion"))] for m in models]
    return fitted(cols, rows, width)


def endpoint_status(status: Any) -> str:
    if not isinstance(status, int):
        return "-"
    return _STATUS.get(status, "ok" if status > 0 else f"degraded ({status})")


def endpoints_table(endpoints: list[dict[str, Any]], width: int | None = None) -> Table:
    cols = [Col("provider"), Col("context", True, 3), Col("max out", True, 1),
            Col("prompt $/M", True), Col("completion $/M", True), Col("quant", keep=2),
            Col("status", keep=4)]
    rows = []
    for e in endpoints:
        pricing = e.get("pricing") or {}
        rows.append([str(e.get("provider_name") or e.get("tag") or "-"),
                     count(e.get("context_length")), count(e.get("max_completion_tokens")),
                     per_million(pricing.get("prompt")), per_million(pricing.get("completion")),
                     str(e.get("quantization") or "-"), endpoint_status(e.get("status"))])
    return fitted(cols, rows, width)


def model_header(model: dict[str, Any]) -> Text:
    arch = model.get("architecture") or {}
    text = Text(str(model.get("name") or model.get("id")), style="bold")
    text.append(f"  {model.get('id')}\n", style="dim")
    if arch.get("modality"):
        text.append(f"modality: {arch['modality']}\n")
    if model.get("description"):
        text.append(str(model["description"]).strip() + "\n")
    return text


HASH_SHOWN = 16  # enough to be unique; `keys disable|delete` take a prefix


def keys_table(keys: list[dict[str, Any]], width: int | None = None) -> Table:
    cols = [Col("hash"), Col("name"), Col("status", keep=6), Col("limit", True, 5),
            Col("remaining", True, 3), Col("reset", keep=2), Col("usage", True, 4),
            Col("created", keep=1)]
    rows = []
    for k in keys:
        limit = k.get("limit")
        rows.append([str(k.get("hash"))[:HASH_SHOWN], str(k.get("name") or k.get("label") or "-"),
                     "disabled" if k.get("disabled") else "active",
                     usd(limit) if limit is not None else "none",
                     usd(k.get("limit_remaining")) if limit is not None else "-",
                     str(k.get("limit_reset") or "-"), usd(k.get("usage")),
                     str(k.get("created_at") or "-")[:10]])
    return fitted(cols, rows, width)


def activity_table(rows: list[dict[str, Any]], width: int | None = None) -> Table:
    cols = [Col("date"), Col("model"), Col("provider", keep=4), Col("requests", True, 3),
            Col("prompt tok", True, 2), Col("completion tok", True, 1), Col("usage", True)]
    cells = [[str(r.get("date") or "-")[:10], str(r.get("model") or "-"),
              str(r.get("provider_name") or "-"), count(r.get("requests")),
              count(r.get("prompt_tokens")), count(r.get("completion_tokens")),
              usd(r.get("usage"))]
             for r in sorted(rows, key=lambda r: (str(r.get("date")), str(r.get("model"))))]
    return fitted(cols, cells, width)


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
