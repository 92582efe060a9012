"""`switchboard models`: the catalog as a table, one model's endpoints."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import typer
from rich.text import Text

from switchboard.cli.api_client import ApiClient, ApiError
from switchboard.cli.connection import resolve
from switchboard.cli.failures import reported, with_model_suggestions
from switchboard.cli.groups import ModelsGroup
from switchboard.cli.options import ApiKey, BaseUrl, JsonOut
from switchboard.cli.output import print_json, stderr_console, stdout_console
from switchboard.cli.tables import endpoints_table, model_header, models_table

models_app = typer.Typer(
    cls=ModelsGroup,
    help="List and inspect models.  `switchboard models SEARCH` is short for "
         "`switchboard models list SEARCH`.\n\n"
         "Example: switchboard models claude --provider anthropic\n\n"
         "Example: switchboard models show openai/gpt-5-mini",
)

_ENDPOINT_FETCHES = 8  # parallel requests when --provider needs every model's endpoints


def _is_free(model: dict[str, Any]) -> bool:
    pricing = model.get("pricing") or {}
    try:
        return all(Decimal(str(pricing.get(k, "0"))) == 0 for k in ("prompt", "completion"))
    except InvalidOperation:
        return False


def _matches_search(model: dict[str, Any], search: str) -> bool:
    needle = search.lower()
    return needle in str(model.get("id", "")).lower() or needle in str(
        model.get("name", "")).lower()


def _served_by(endpoint: dict[str, Any], provider: str) -> bool:
    wanted = provider.lower()
    # OpenRouter's tag is "provider/quantization"; ours is the slug
    names = {str(endpoint.get(k) or "").lower() for k in ("provider_slug", "provider_name")}
    names.add(str(endpoint.get("tag") or "").lower().split("/", 1)[0])
    return wanted in names


def _filter_by_provider(client: ApiClient, models: list[dict[str, Any]],
                        provider: str) -> list[dict[str, Any]]:
    """/models does not say who serves a model; each model's endpoints list does."""

    def served(model: dict[str, Any]) -> bool:
        try:
            data = client.get(f"models/{model['id']}/endpoints").get("data") or {}
        except ApiError as exc:
            if exc.status == 404:
                return False
            raise
        return any(_served_by(e, provider) for e in data.get("endpoints") or ())

    with ThreadPoolExecutor(_ENDPOINT_FETCHES) as pool:
        keep = list(pool.map(served, models))
    return [m for m, k in zip(models, keep, strict=True) if k]


@models_app.command("list")
def models_list(
    search: Annotated[str | None, typer.Argument(
        help="Keep models whose id or name contains this text.", show_default=False)] = None,
    provider: Annotated[str | None, typer.Option(
        "--provider", help="Keep models with an endpoint on this provider (slug or name).",
        show_default=False)] = None,
    free: Annotated[bool, typer.Option("--free", help="Keep zero-priced models.")] = False,
    json_out: JsonOut = False,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Models with context length and prices in USD per million tokens.

    Example: switchboard models gpt --free
    """
    conn = resolve(base_url, api_key)
    with ApiClient(conn) as client, reported(conn):
        models: list[dict[str, Any]] = client.get("models").get("data") or []
        if search:
            models = [m for m in models if _matches_search(m, search)]
        if free:
            models = [m for m in models if _is_free(m)]
        if provider:
            models = _filter_by_provider(client, models, provider)
    if json_out:
        print_json({"data": models})
        return
    if not models:
        stderr_console().print("no models match")
        return
    console = stdout_console()
    console.print(models_table(sorted(models, key=lambda m: str(m.get("id"))), console.width))


@models_app.command("show")
def models_show(
    model_id: Annotated[str, typer.Argument(metavar="ID", help="Model id, e.g. test/gpt.")],
    json_out: JsonOut = False,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Every provider endpoint of one model: context, prices, quantization, status.

    Example: switchboard models show anthropic/claude-sonnet-4.6
    """
    conn = resolve(base_url, api_key)
    with ApiClient(conn) as client, reported(conn):
        try:
            if "/" not in model_id:  # not a path the API has; ask nobody, suggest ids
                raise ApiError(404, f"model '{model_id}' not found")
            data = client.get(f"models/{model_id}/endpoints").get("data") or {}
        except ApiError as exc:
            raise with_model_suggestions(exc, client, model_id) from None
    if json_out:
        print_json({"data": data})
        return
    console = stdout_console()
    console.print(model_header(data))
    endpoints = data.get("endpoints") or []
    if endpoints:
        console.print(endpoints_table(endpoints, console.width))
    else:
        console.print(Text("no endpoints", style="dim"))
