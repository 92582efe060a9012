"""Logging for the whole process (Switchboard and the HTTP server): text or JSON lines.

Every line carries the id of the request it was written for, when there is one. Callers
pass structured fields as `extra={"fields": {...}}`; the formatters render them as JSON
members or `key=value` pairs. Nothing here ever sees a key or prompt text: callers pass
only the fields they mean to publish.
"""

from __future__ import annotations

import logging
import logging.config
import time
from typing import Any, Literal

import orjson

from switchboard.observability import context

LogFormat = Literal["text", "json"]
LEVELS = ("debug", "info", "warning", "error", "critical")
# the HTTP servers' own loggers, routed through the same handler
SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "_granian", "granian.access")


def _timestamp(created: float) -> str:
    secs = int(created)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + (
        f".{int((created - secs) * 1000):03d}Z")


class RequestIdFilter(logging.Filter):
    """Stamps each record with the current request id; runs in the caller's context."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = context.current_request_id()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = getattr(record, "request_id", None)
        if rid:
            line["request_id"] = rid
        fields = getattr(record, "fields", None)
        if fields:
            line.update(fields)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        parts = [_timestamp(record.created), record.levelname, record.name, record.getMessage()]
        rid = getattr(record, "request_id", None)
        if rid:
            parts.append(f"request_id={rid}")
        fields = getattr(record, "fields", None)
        if fields:
            parts.extend(f"{k}={_text_value(v)}" for k, v in fields.items() if v is not None)
        out = " ".join(parts)
        if record.exc_info:
            out += "\n" + self.formatException(record.exc_info)
        return out


def _text_value(value: Any) -> str:
    if isinstance(value, str):
        return value if value and " " not in value and '"' not in value else orjson.dumps(
            value).decode()
    if isinstance(value, (int, float, bool)):
        return str(value)
    return orjson.dumps(value, default=str).decode()


def dict_config(level: str = "info", fmt: LogFormat = "text") -> dict[str, Any]:
    """A logging.config dictionary: one stderr handler for the root and the server loggers."""
    if level.lower() not in LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)}")
    formatter = JsonFormatter if fmt == "json" else TextFormatter
    lvl = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"switchboard": {"()": formatter}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                                "formatter": "switchboard", "filters": ["request_id"]}},
        "root": {"level": lvl, "handlers": ["stderr"]},
        # the servers' loggers lose their own handlers and write through ours
        "loggers": {name: {"level": lvl, "handlers": [], "propagate": True}
                    for name in SERVER_LOGGERS},
    }


def setup_logging(level: str = "info", fmt: LogFormat = "text") -> None:
    logging.config.dictConfig(dict_config(level, fmt))
