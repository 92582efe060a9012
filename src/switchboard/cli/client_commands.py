"""The client half of `switchboard`: commands that talk to a gateway (or OpenRouter) over HTTP.

`switchboard.cli.main` calls register() when this module exists.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from switchboard.cli.account_commands import activity, credits_app, generation, keys_app
from switchboard.cli.api_client import ApiClient, ApiError
from switchboard.cli.catalog_commands import models_app
from switchboard.cli.chat import ChatSettings, Renderer, ask, converse, request_body, stats_line
from switchboard.cli.connection import resolve
from switchboard.cli.failures import (
    EXIT_INTERRUPTED,
    reported,
    usage_error,
    with_model_suggestions,
)
from switchboard.cli.options import ApiKey, BaseUrl
from switchboard.cli.output import stderr_console

_PANEL = "Client (talks to a gateway or openrouter.ai)"
# answers can take minutes; the gateway's keep-alive comments keep a stream's reads short
_CHAT_READ_TIMEOUT_S = 600.0


def _csv(value: str | None) -> list[str]:
    return [p.strip() for p in (value or "").split(",") if p.strip()]


def _extra(value: str | None) -> dict[str, Any]:
    if not value:
        return {}
    try:
        parsed = json.loads(value)
    except ValueError as exc:
        usage_error(f"--extra is not JSON: {exc}")
    if not isinstance(parsed, dict):
        usage_error("--extra must be a JSON object")
    return parsed


def _read_stdin() -> str:
    text = sys.stdin.read()
    if not text.strip():
        usage_error("no prompt: give one as an argument or on stdin")
    return text


def _print_raw_answer(client: ApiClient, settings: ChatSettings,
                      history: list[dict[str, Any]]) -> None:
    body = request_body(settings, history, stream=False)
    try:
        resp = client.request("POST", "chat/completions", body=body)
    except ApiError as exc:
        raise with_model_suggestions(exc, client, settings.model) from None
    typer.echo(resp.text)  # not re-serialised: scripts see exactly what the API sent


def chat(
    model: Annotated[str, typer.Argument(help="Model id, e.g. openai/gpt-5-mini.")],
    prompt: Annotated[str | None, typer.Argument(
        help="The prompt. Omitted or '-': read stdin; omitted on a terminal: a conversation.",
        show_default=False)] = None,
    system: Annotated[str | None, typer.Option(
        "--system", "-s", help="System prompt.", show_default=False)] = None,
    temperature: Annotated[float | None, typer.Option(
        "--temperature", "-t", min=0.0, max=2.0, show_default=False)] = None,
    max_tokens: Annotated[int | None, typer.Option(
        "--max-tokens", min=1, show_default=False)] = None,
    json_out: Annotated[bool, typer.Option(
        "--json", help="Print the raw JSON response (not streamed), for scripts.")] = False,
    no_stream: Annotated[bool, typer.Option(
        "--no-stream", help="Wait for the whole answer instead of streaming it.")] = False,
    provider_order: Annotated[str | None, typer.Option(
        "--provider-order", metavar="A,B", help="Providers to try first, in order.",
        show_default=False)] = None,
    provider_only: Annotated[str | None, typer.Option(
        "--provider-only", metavar="A,B", help="Use only these providers.",
        show_default=False)] = None,
    fallback: Annotated[list[str] | None, typer.Option(
        "--fallback", metavar="MODEL", help="Fallback model, tried in order (repeatable).",
        show_default=False)] = None,
    extra: Annotated[str | None, typer.Option(
        "--extra", metavar="JSON", help="JSON object merged into the request body.",
        show_default=False)] = None,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Ask a model; the answer streams to stdout, a stats line goes to stderr.

    Example: switchboard chat openai/gpt-5-mini "Name three primes"

    Example: git diff | switchboard chat anthropic/claude-sonnet-4.6 -s "Review this diff"

    Example: switchboard chat openai/gpt-5-mini --json "hi" | jq .usage.cost
    """
    conn = resolve(base_url, api_key)
    settings = ChatSettings(
        model=model, system=system, temperature=temperature, max_tokens=max_tokens,
        provider_order=_csv(provider_order), provider_only=_csv(provider_only),
        fallbacks=list(fallback or []), extra=_extra(extra), stream=not no_stream)
    err = stderr_console()
    renderer = Renderer(sys.stdout, err)
    if prompt is None and sys.stdin.isatty() and not json_out:
        with ApiClient(conn, read_timeout_s=_CHAT_READ_TIMEOUT_S) as client:
            raise typer.Exit(converse(client, conn, settings, renderer, err))
    text = _read_stdin() if prompt in (None, "-") else str(prompt)
    history = [{"role": "user", "content": text}]
    with ApiClient(conn, read_timeout_s=_CHAT_READ_TIMEOUT_S) as client, reported(conn):
        if json_out:
            _print_raw_answer(client, settings, history)
            return
        try:
            answer = ask(client, settings, history, renderer)
        except KeyboardInterrupt:  # a non-streamed wait; a stream handles its own
            raise typer.Exit(EXIT_INTERRUPTED) from None
    if answer.interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)
    err.print(stats_line(answer), soft_wrap=True)  # one line, even when narrow


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel=_PANEL)(chat)
    app.add_typer(models_app, name="models", rich_help_panel=_PANEL)
    app.add_typer(keys_app, name="keys", rich_help_panel=_PANEL)
    app.add_typer(credits_app, name="credits", rich_help_panel=_PANEL)
    app.command(rich_help_panel=_PANEL)(activity)
    app.command(rich_help_panel=_PANEL)(generation)
