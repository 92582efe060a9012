"""Logging for the whole process (Switchboard and the HTTP server): text or JSON lines.

Every line carries the id of the request it was written for, when there is one. Callers
pass structured fields as `extra={"fields": {...}}`; the formatters render them as JSON
members or `key=value` pairs. Nothing here ever sees a key or prompt text: callers pass
only the fields they mean to publish.
"""

from __future__ import annotations

import atexit
import logging
import logging.config
import logging.handlers
import queue
import sys
import time
from typing import Any, Literal

import orjson

from switchboard.observability import context

LogFormat = Literal["text", "json"]
LEVELS = ("debug", "info", "warning", "error", "critical")
# the HTTP servers' own loggers, routed through the same handler
SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "_granian", "granian.access")


class _Clock:
    """ISO-8601 UTC with milliseconds; the date part is formatted once per second."""

    __slots__ = ("prefix", "second")

    def __init__(self) -> None:
        self.second = -1
        self.prefix = ""

    def stamp(self, created: float) -> str:
        secs = int(created)
        if secs != self.second:
            self.second, self.prefix = secs, time.strftime("%Y-%m-%dT%H:%M:%S",
                                                           time.gmtime(secs))
        return f"{self.prefix}.{int((created - secs) * 1000):03d}Z"


class RequestIdFilter(logging.Filter):
    """Stamps each record with the current request id; runs in the caller's context."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = context.current_request_id()
        return True


class JsonFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        self.clock = _Clock()

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": self.clock.stamp(record.created),
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
        exc = _exception_text(self, record)
        if exc:
            line["exc"] = exc
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        self.clock = _Clock()

    def format(self, record: logging.LogRecord) -> str:
        parts = [self.clock.stamp(record.created), record.levelname, record.name,
                 record.getMessage()]
        rid = getattr(record, "request_id", None)
        if rid:
            parts.append(f"request_id={rid}")
        fields = getattr(record, "fields", None)
        if fields:
            parts.extend(f"{k}={_text_value(v)}" for k, v in fields.items() if v is not None)
        out = " ".join(parts)
        exc = _exception_text(self, record)
        return f"{out}\n{exc}" if exc else out


def _exception_text(fmt: logging.Formatter, record: logging.LogRecord) -> str | None:
    if record.exc_info:
        return fmt.formatException(record.exc_info)
    return record.exc_text or None  # already rendered by BackgroundHandler.prepare


_PLAIN = logging.Formatter()


class BackgroundHandler(logging.handlers.QueueHandler):
    """Hands records to a thread that formats and writes them: the request pays for a
    record and a queue put, not for JSON encoding and the write to stderr."""

    def __init__(self, target: logging.Handler) -> None:
        super().__init__(queue.SimpleQueue())
        self.listener = logging.handlers.QueueListener(self.queue, target)
        self.listener.start()
        atexit.register(self.stop)  # drains what is queued at exit

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        # the message and traceback are rendered here, while the arguments are still valid
        record.message = record.getMessage()
        record.msg, record.args = record.message, None
        if record.exc_info:
            record.exc_text = _PLAIN.formatException(record.exc_info)
            record.exc_info = None
        return record

    def stop(self) -> None:
        if self.listener._thread is not None:  # type: ignore[attr-defined]  # once only
            self.listener.stop()

    def close(self) -> None:
        self.stop()
        super().close()


def background_stderr(fmt: LogFormat = "text") -> BackgroundHandler:
    target = logging.StreamHandler(sys.stderr)
    target.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    return BackgroundHandler(target)


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
    lvl = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        # the request id filter runs on the caller's side of the queue, in its context
        "handlers": {"stderr": {"()": background_stderr, "fmt": fmt,
                                "filters": ["request_id"]}},
        "root": {"level": lvl, "handlers": ["stderr"]},
        # the servers' loggers lose their own handlers and write through ours
        "loggers": {name: {"level": lvl, "handlers": [], "propagate": True}
                    for name in SERVER_LOGGERS},
    }


def lighten_records() -> None:
    """Skip what no line shows: the caller's file and line (a stack walk per record),
    thread, process and task names. Process-wide, so only `switchboard serve` calls it."""
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging.logAsyncioTasks = False  # type: ignore[attr-defined]


def setup_logging(level: str = "info", fmt: LogFormat = "text") -> None:
    lighten_records()
    logging.config.dictConfig(dict_config(level, fmt))
