"""The two line formats and the background writer, without a server."""

from __future__ import annotations

import io
import json
import logging

import pytest

from switchboard.observability import context
from switchboard.observability.logs import (
    BackgroundHandler,
    JsonFormatter,
    RequestIdFilter,
    TextFormatter,
    dict_config,
)


def _logger(handler: logging.Handler) -> logging.Logger:
    log = logging.getLogger(f"switchboard.test.{id(handler)}")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    log.addHandler(handler)
    return log


def test_text_lines_are_key_value_pairs_with_the_request_id() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(TextFormatter())
    handler.addFilter(RequestIdFilter())
    log = _logger(handler)
    token = context.current.set(context.RequestContext("req-abc", "/x", 0.0))
    try:
        log.info("fallback", extra={"fields": {"from": "a", "to": "b", "detail": "two words",
                                               "attempts": [1], "none": None}})
    finally:
        context.current.reset(token)
    line = out.getvalue().strip()
    assert line.endswith('fallback request_id=req-abc from=a to=b detail="two words" attempts=[1]')
    assert line[:4].isdigit() and "Z INFO switchboard.test" in line


def test_background_lines_keep_order_arguments_and_tracebacks() -> None:
    out = io.StringIO()
    target = logging.StreamHandler(out)
    target.setFormatter(JsonFormatter())
    handler = BackgroundHandler(target)
    log = _logger(handler)
    for i in range(50):
        log.info("line %d", i)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("writer %s failed", "ledger")
    handler.close()  # drains the queue
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert [x["msg"] for x in lines[:50]] == [f"line {i}" for i in range(50)]
    assert lines[50]["msg"] == "writer ledger failed" and lines[50]["level"] == "error"
    assert "RuntimeError: boom" in lines[50]["exc"]


def test_an_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="log level"):
        dict_config("verbose")


def test_the_cli_refuses_a_bad_format() -> None:
    from typer.testing import CliRunner

    from switchboard.cli.main import app

    result = CliRunner().invoke(app, ["serve", "--log-format", "xml"])
    assert result.exit_code == 2 and "text or json" in result.output
