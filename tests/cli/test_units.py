"""The CLI's pure pieces: SSE decoding, money formatting, charts, suggestions, bodies."""

from __future__ import annotations

import email.utils
from datetime import date
from decimal import Decimal

import pytest

from switchboard.cli.api_client import ApiError, decode_events, retry_after_seconds
from switchboard.cli.chat import ChatSettings, request_body
from switchboard.cli.failures import close_matches
from switchboard.cli.output import per_million, usd
from switchboard.cli.tables import bar, daily_spend, spend_chart

STREAM = (
    ": OPENROUTER PROCESSING\n\n"
    'data: {"choices": [{"delta": {"content": "He"}}]}\n\n'
    "event: ignored\r\n"
    'data: {"choices": [{"delta": {"content": "llo"}}]}\r\n\r\n'
    "data: [DONE]\n\n"
    'data: {"after": "done"}\n\n'
)


def _lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").split("\n")


def test_sse_decoder_skips_comments_and_stops_at_done() -> None:
    events = list(decode_events(_lines(STREAM)))
    assert [e["choices"][0]["delta"]["content"] for e in events] == ["He", "llo"]


def test_sse_multi_line_data_is_joined() -> None:
    lines = ['data: {"a":', "data: 1}", ""]
    assert list(decode_events(lines)) == [{"a": 1}]


def test_sse_error_event_raises_with_its_code() -> None:
    lines = ['data: {"error": {"code": 429, "message": "slow", "metadata": {"x": 1}}}', ""]
    with pytest.raises(ApiError) as info:
        list(decode_events(lines))
    assert (info.value.status, info.value.message, info.value.metadata) == (429, "slow",
                                                                            {"x": 1})


@pytest.mark.parametrize(("per_token", "shown"), [
    ("0.0000033", "$3.30"), ("0.0000165", "$16.50"), ("0.000000165", "$0.165"),
    ("0", "free"), ("-1", "varies"), (None, "-"), ("junk", "-"), ("0.00006", "$60.00"),
])
def test_prices_per_million_are_exact(per_token: str | None, shown: str) -> None:
    assert per_million(per_token) == shown


@pytest.mark.parametrize(("value", "shown"), [
    (0, "$0"), (100, "$100.00"), (1234.5, "$1,234.50"), (0.00000396, "$0.00000396"),
    (-2.5, "-$2.50"), (None, "-"),
])
def test_usd_keeps_tiny_costs_visible(value: float | None, shown: str) -> None:
    assert usd(value) == shown


def test_retry_after_as_seconds_or_http_date() -> None:
    assert retry_after_seconds("12") == 12
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    when = email.utils.formatdate(1_000_030, usegmt=True)
    assert retry_after_seconds(when, now=1_000_000) == 30


def test_bars_scale_in_eighths_and_never_hide_spend() -> None:
    top = Decimal(8)
    assert bar(top, top, 4) == "████"
    assert bar(Decimal(1), top, 4) == "▌"  # 4 cells × 8 eighths × 1/8 = 4 eighths
    assert bar(Decimal("0.0001"), top, 4) == "▏"
    assert bar(Decimal(0), top, 4) == ""


def test_daily_spend_fills_quiet_days_up_to_today() -> None:
    rows = [{"date": "2026-01-02", "usage": 1.5}, {"date": "2026-01-02", "usage": 0.5},
            {"date": "2026-01-04", "usage": 1}]
    assert daily_spend(rows, until=date(2026, 1, 5)) == [
        ("2026-01-02", Decimal(2)), ("2026-01-03", Decimal(0)), ("2026-01-04", Decimal(1)),
        ("2026-01-05", Decimal(0))]
    chart = spend_chart(daily_spend(rows), 30).plain.splitlines()
    assert [len(line) for line in chart] == [29, 29, 29]
    assert chart[0].startswith("01-02 ████") and chart[0].endswith("$2.00")


def test_close_matches_by_spelling_and_by_slug() -> None:
    ids = ["openai/gpt-4o", "openai/gpt-4o-mini", "anthropic/claude-sonnet-4.6", "test/gpt"]
    assert close_matches("test/gtp", ids)[0] == "test/gpt"
    assert "openai/gpt-4o" in close_matches("gpt-4o", ids)
    assert close_matches("anthropic/claude-sonet-4.6", ids)[0] == "anthropic/claude-sonnet-4.6"
    assert close_matches("zzz/qqq", ids) == []


def test_request_body_maps_options_and_merges_extra_deeply() -> None:
    settings = ChatSettings(model="m", system="sys", temperature=0.5, max_tokens=9,
                            provider_order=["a", "b"], fallbacks=["f"],
                            extra={"provider": {"sort": "price"}, "seed": 1})
    body = request_body(settings, [{"role": "user", "content": "q"}], stream=True)
    assert body["messages"][0] == {"role": "system", "content": "sys"}
    assert body["provider"] == {"order": ["a", "b"], "sort": "price"}
    assert body["models"] == ["f"]
    assert (body["temperature"], body["max_tokens"], body["seed"]) == (0.5, 9, 1)
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    plain = request_body(ChatSettings(model="m"), [], stream=False)
    assert "provider" not in plain and "models" not in plain and "stream_options" not in plain
