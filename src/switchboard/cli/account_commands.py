"""`switchboard keys|credits|activity|generation`: the account side of the API."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from switchboard.cli.api_client import ApiClient, ApiError
from switchboard.cli.connection import resolve
from switchboard.cli.failures import reported, usage_error
from switchboard.cli.groups import CreditsGroup
from switchboard.cli.options import AdminKey, ApiKey, BaseUrl, JsonOut
from switchboard.cli.output import print_json, stderr_console, stdout_console, usd
from switchboard.cli.tables import (
    activity_table,
    daily_spend,
    generation_details,
    keys_table,
    spend_chart,
)

keys_app = typer.Typer(
    no_args_is_help=True,
    help="Manage API keys (needs a provisioning or root key).\n\n"
         "Example: switchboard keys create ci-bot --limit 5 --reset monthly",
)
credits_app = typer.Typer(
    cls=CreditsGroup,
    help="The account's credits.  `switchboard credits` is short for `switchboard credits show`."
         "\n\nExample: switchboard credits charge 25",
)


class Reset(StrEnum):
    daily = "daily"
    weekly = "weekly"
    monthly = "monthly"


# -- keys ------------------------------------------------------------------------------------

_FULL_HASH = 40  # shorter input is taken as a prefix of a listed key's hash


def _list_keys(client: ApiClient) -> list[dict[str, Any]]:
    """Every page of GET /keys (OpenRouter pages with `offset`)."""
    keys: list[dict[str, Any]] = []
    seen: set[str] = set()
    while True:
        # OpenRouter hides disabled keys unless asked; the table shows their status instead
        page = client.get("keys", offset=len(keys) or None,
                          include_disabled="true").get("data") or []
        fresh = [k for k in page if k.get("hash") not in seen]
        if not fresh:  # empty, or a server that ignores offset
            return keys
        keys += fresh
        seen.update(str(k.get("hash")) for k in fresh)


def _resolve_hash(client: ApiClient, given: str) -> str:
    if len(given) >= _FULL_HASH:
        return given
    found = [str(k["hash"]) for k in _list_keys(client) if str(k.get("hash")).startswith(given)]
    if not found:
        raise ApiError(404, f"no key with a hash starting '{given}'")
    if len(found) > 1:
        usage_error(f"'{given}' matches {len(found)} keys; give more of the hash")
    return found[0]


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Argument(help="A name to recognise the key by.")],
    limit: Annotated[float | None, typer.Option(
        "--limit", min=0, help="Spending limit in USD.", show_default=False)] = None,
    reset: Annotated[Reset | None, typer.Option(
        "--reset", help="When the limit's count starts again.", show_default=False)] = None,
    account: Annotated[str | None, typer.Option(
        "--account", help="Account id (root key only).", show_default=False)] = None,
    json_out: JsonOut = False,
    base_url: BaseUrl = None,
    api_key: AdminKey = None,
) -> None:
    """Create an API key and print it.  It is shown only this once.

    Example: KEY=$(switchboard keys create ci-bot --limit 5 --reset monthly)
    """
    conn = resolve(base_url, api_key, admin=True)
    body: dict[str, Any] = {"name": name}
    if limit is not None:
        body["limit"] = limit
    if reset is not None:
        body["limit_reset"] = reset.value
    if account:
        body["account_id"] = account
    with ApiClient(conn) as client, reported(conn):
        created = client.json("POST", "keys", body=body)
    if json_out:
        print_json(created)
        return
    data = created.get("data") or {}
    # the key alone on stdout so `$(...)` captures it; the rest is for the person
    typer.echo(created.get("key"))
    lim = f", limit {usd(data['limit'])}" if data.get("limit") is not None else ""
    every = f" {data['limit_reset']}" if data.get("limit_reset") else ""
    stderr_console().print(Text(
        f"created key '{data.get('name', name)}' (hash {data.get('hash')}{lim}{every}); "
        "store it now: it cannot be shown again", style="dim"))


@keys_app.command("list")
def keys_list(
    json_out: JsonOut = False,
    base_url: BaseUrl = None,
    api_key: AdminKey = None,
) -> None:
    """API keys of the account: hash, name, status, limit, usage.

    Example: switchboard keys list
    """
    conn = resolve(base_url, api_key, admin=True)
    with ApiClient(conn) as client, reported(conn):
        keys = _list_keys(client)
    if json_out:
        print_json({"data": keys})
    elif not keys:
        stderr_console().print("no keys")
    else:
        console = stdout_console()
        console.print(keys_table(keys, console.width))


def _set_disabled(hash_: str, disabled: bool, base_url: str | None, api_key: str | None) -> None:
    conn = resolve(base_url, api_key, admin=True)
    with ApiClient(conn) as client, reported(conn):
        full = _resolve_hash(client, hash_)
        data = client.json("PATCH", f"keys/{full}", body={"disabled": disabled}).get("data") or {}
    state = "disabled" if disabled else "enabled"
    typer.echo(f"{state} key '{data.get('name', '?')}' ({full})")


@keys_app.command("disable")
def keys_disable(
    hash_: Annotated[str, typer.Argument(metavar="HASH", help="The key's hash, or a prefix.")],
    base_url: BaseUrl = None,
    api_key: AdminKey = None,
) -> None:
    """Stop a key from working; `keys enable` undoes it.

    Example: switchboard keys disable 3f9a1c
    """
    _set_disabled(hash_, True, base_url, api_key)


@keys_app.command("enable")
def keys_enable(
    hash_: Annotated[str, typer.Argument(metavar="HASH", help="The key's hash, or a prefix.")],
    base_url: BaseUrl = None,
    api_key: AdminKey = None,
) -> None:
    """Let a disabled key work again.

    Example: switchboard keys enable 3f9a1c
    """
    _set_disabled(hash_, False, base_url, api_key)


@keys_app.command("delete")
def keys_delete(
    hash_: Annotated[str, typer.Argument(metavar="HASH", help="The key's hash, or a prefix.")],
    base_url: BaseUrl = None,
    api_key: AdminKey = None,
) -> None:
    """Delete a key for good.

    Example: switchboard keys delete 3f9a1c
    """
    conn = resolve(base_url, api_key, admin=True)
    with ApiClient(conn) as client, reported(conn):
        full = _resolve_hash(client, hash_)
        client.request("DELETE", f"keys/{full}")
    typer.echo(f"deleted key {full}")


# -- credits ---------------------------------------------------------------------------------


def _credits_view(data: dict[str, Any]) -> Table:
    total, used = data.get("total_credits") or 0, data.get("total_usage") or 0
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(justify="right")
    if data.get("account_id"):
        grid.add_row("account", str(data["account_id"]))
    grid.add_row("credits", usd(total))
    grid.add_row("used", usd(used))
    grid.add_row("balance", usd(float(total) - float(used)))
    return grid


@credits_app.command("show")
def credits_show(
    json_out: JsonOut = False,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Credits bought, used, and the balance left.

    Example: switchboard credits
    """
    conn = resolve(base_url, api_key)
    with ApiClient(conn) as client, reported(conn):
        body = client.get("credits")
    if json_out:
        print_json(body)
    else:
        stdout_console().print(_credits_view(body.get("data") or {}))


@credits_app.command("charge")
def credits_charge(
    amount: Annotated[float, typer.Argument(min=0.000001, help="USD to add.")],
    account: Annotated[str | None, typer.Option(
        "--account", help="Account id; default: the `default` account.",
        show_default=False)] = None,
    json_out: JsonOut = False,
    base_url: BaseUrl = None,
    api_key: AdminKey = None,
) -> None:
    """Add credits to an account (root key only).

    Example: switchboard credits charge 25 --account acct_123
    """
    conn = resolve(base_url, api_key, admin=True)
    body: dict[str, Any] = {"amount": amount}
    if account:
        body["account_id"] = account
    with ApiClient(conn) as client, reported(conn):
        answer = client.json("POST", "credits/charge", body=body)
    if json_out:
        print_json(answer)
    else:
        stdout_console().print(_credits_view(answer.get("data") or {}))


# -- activity and generations ----------------------------------------------------------------


def _day(text: str | None) -> str | None:
    if text is None:
        return None
    today = datetime.now(UTC).date()  # the API's days are UTC days
    named = {"today": today, "yesterday": today - timedelta(days=1)}
    if text in named:
        return named[text].isoformat()
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        usage_error(f"--date must be YYYY-MM-DD, today or yesterday, not '{text}'")


_CHART_MAX_WIDTH = 100  # longer bars add no precision, and a pipe reports no width


def activity(
    day: Annotated[str | None, typer.Option(
        "--date", metavar="YYYY-MM-DD", help="One day only (UTC); also today, yesterday.",
        show_default=False)] = None,
    chart: Annotated[bool, typer.Option(
        "--chart", help="Draw daily spend as a bar chart instead of the table.")] = False,
    json_out: JsonOut = False,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Requests, tokens and spend per day, model and provider over the last 30 days.

    Example: switchboard activity --chart
    """
    conn = resolve(base_url, api_key)
    query = _day(day)
    with ApiClient(conn) as client, reported(conn):
        rows: list[dict[str, Any]] = client.get("activity", date=query).get("data") or []
    if json_out:
        print_json({"data": rows})
        return
    if not rows:
        when = f" on {query}" if query else " in the last 30 days"
        stderr_console().print(f"no activity{when}")
        return
    console = stdout_console()
    if chart:
        until = datetime.now(UTC).date() if query is None else None
        width = min(console.width, _CHART_MAX_WIDTH)
        console.print(spend_chart(daily_spend(rows, until), width), end="")
    else:
        console.print(activity_table(rows, console.width))


def generation(
    gen_id: Annotated[str, typer.Argument(metavar="ID", help="A generation id (gen-…).")],
    json_out: JsonOut = False,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """One request's record: model, provider, tokens, cost, latency, attempts.

    Example: switchboard generation gen-1700000000-AbCdEf
    """
    conn = resolve(base_url, api_key)
    with ApiClient(conn) as client, reported(conn):
        body = client.get("generation", id=gen_id)
    if json_out:
        print_json(body)
    else:
        stdout_console().print(generation_details(body.get("data") or {}))
