"""Errors become one line on stderr and an exit code per class — never a traceback.

Scripts branch on the code: 3 bad key, 4 no credit, 5 not found, 6 rate limited,
7 unreachable, 1 any other API error, 2 bad usage, 130 interrupted.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from rich.text import Text

from switchboard.cli.api_client import ApiClient, ApiError, TransportFailure, Unreachable
from switchboard.cli.connection import Connection
from switchboard.cli.output import stderr_console

EXIT_API = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_CREDIT = 4
EXIT_NOT_FOUND = 5
EXIT_RATE_LIMIT = 6
EXIT_UNREACHABLE = 7
EXIT_INTERRUPTED = 130

# variants that apply to every model (SPEC §2); `:free`, `:1m`, `:beta` are catalog entries
_ANY_MODEL_VARIANTS = frozenset({"nitro", "floor", "online"})

_BY_STATUS = {401: EXIT_AUTH, 402: EXIT_CREDIT, 404: EXIT_NOT_FOUND, 429: EXIT_RATE_LIMIT}


def exit_code(exc: Exception) -> int:
    if isinstance(exc, ApiError):
        return _BY_STATUS.get(exc.status, EXIT_API)
    if isinstance(exc, Unreachable):
        return EXIT_UNREACHABLE
    return EXIT_API


def describe(exc: Exception, conn: Connection) -> str:
    """The one line a person reads: what happened, and what to do about it."""
    if isinstance(exc, Unreachable):
        return (f"cannot reach {exc.url} ({exc.reason}); is the gateway running "
                "(`switchboard serve`)? Set SWITCHBOARD_BASE_URL or pass --base-url")
    if isinstance(exc, TransportFailure):
        return exc.message
    if not isinstance(exc, ApiError):
        return str(exc)
    message = exc.message.rstrip(".")
    if exc.status == 401:
        if not conn.api_key:
            return "no API key (401): set SWITCHBOARD_API_KEY or pass --api-key"
        return f"{message} (401): check the key in {conn.key_source}"
    if exc.status == 402:
        where = ("add credits at openrouter.ai" if conn.is_openrouter else
                 "add credits with `switchboard credits charge AMOUNT` or raise the key's limit")
        return f"out of credits (402): {message}; {where}"
    if exc.status == 403 and "key" in message.lower():
        return f"{message} (403); pass a provisioning (management) or root key with --api-key"
    if exc.status == 429:
        wait = exc.retry_after_s
        after = f"; retry in {math.ceil(wait)}s" if wait is not None else ""
        return f"rate limited (429): {message}{after}"
    provider = exc.metadata.get("provider_name")
    by = f" [{provider}]" if provider and str(provider) not in message else ""
    return f"{message} ({exc.status}){by}"


def fail(exc: Exception, conn: Connection) -> NoReturn:
    say_error(describe(exc, conn))
    raise typer.Exit(exit_code(exc))


def say_error(message: str) -> None:
    line = Text("error: ", style="bold red")
    line.append(" ".join(message.split()))
    stderr_console().print(line, soft_wrap=True)


def usage_error(message: str) -> NoReturn:
    say_error(message)
    raise typer.Exit(EXIT_USAGE)


@contextmanager
def reported(conn: Connection) -> Iterator[None]:
    """Wrap a command body: API and transport errors become fail()."""
    try:
        yield
    except (ApiError, Unreachable, TransportFailure) as exc:
        fail(exc, conn)


def close_matches(wanted: str, ids: list[str], n: int = 3) -> list[str]:
    """Near spellings first (difflib), then ids that contain the slug typed."""
    base = wanted.split(":", 1)[0]
    found = difflib.get_close_matches(base, ids, n=n, cutoff=0.6)
    slug = base.rsplit("/", 1)[-1].lower()
    if len(found) < n and len(slug) >= 3:
        found += [i for i in ids if slug in i.lower() and i not in found][: n - len(found)]
    if len(found) < n:
        # the slug alone, against other vendors' slugs: "gpt-4o" → "openai/gpt-4o"
        slugs = {i.rsplit("/", 1)[-1]: i for i in ids}
        for s in difflib.get_close_matches(slug, list(slugs), n=n, cutoff=0.6):
            if slugs[s] not in found:
                found.append(slugs[s])
    return found[:n]


def with_model_suggestions(exc: ApiError, client: ApiClient, model: str) -> ApiError:
    """A 404 for a model the catalog does not list gets "did you mean …"; a 404 for a
    listed model came from a routing filter, and the server's message already says which."""
    if exc.status != 404:
        return exc
    try:
        ids = [str(m.get("id")) for m in client.get("models").get("data", [])]
    except (ApiError, Unreachable, TransportFailure, AttributeError):
        return exc
    base, _, variant = model.partition(":")
    if model in ids or (base in ids and variant in _ANY_MODEL_VARIANTS):
        return exc
    matches = close_matches(model, ids)
    if matches:
        exc.message = f"{exc.message.rstrip('.')}; did you mean {', '.join(matches)}?"
    else:
        exc.message = f"{exc.message.rstrip('.')}; `switchboard models` lists the models"
    return exc
