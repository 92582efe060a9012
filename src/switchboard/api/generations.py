"""Generation records: the paged list (/generations), stored content (/generation/content)
and the per-day usage (/activity), each scoped to what the calling key may see."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson

from switchboard.billing.pricing import usd_float
from switchboard.errors import GatewayError, bad_request
from switchboard.store import queries
from switchboard.store.queries import GenerationFilter
from switchboard.store.repo import KeyRecord
from switchboard.web import Request, Response, json_response

if TYPE_CHECKING:
    from switchboard.app import Services

_STATUSES = ("success", "error", "cancelled")
MAX_PAGE = 200


def generation_view(g: dict[str, Any]) -> dict[str, Any]:
    """One generation in OpenRouter's /generation shape."""
    raw = g.get("provider_responses")
    responses = orjson.loads(raw) if raw else []
    total = usd_float(g["cost"])
    return {
        "id": g["id"], "upstream_id": g["upstream_id"], "total_cost": total,
        "usage": total, "cache_discount": None,
        "upstream_inference_cost": usd_float(g["provider_cost"]),
        "created_at": g["created_at"], "model": g["model"], "app_id": None,
        "streamed": bool(g["streamed"]), "cancelled": bool(g["cancelled"]),
        "provider_name": g["provider_name"], "provider": g["provider"],
        "latency": g["latency"], "moderation_latency": None,
        "generation_time": g["generation_time"],
        "finish_reason": g["finish_reason"], "native_finish_reason": g["native_finish_reason"],
        "tokens_prompt": g["tokens_prompt"], "tokens_completion": g["tokens_completion"],
        "native_tokens_prompt": g["native_tokens_prompt"],
        "native_tokens_completion": g["native_tokens_completion"],
        "native_tokens_completion_images": None,
        "native_tokens_reasoning": g["native_tokens_reasoning"],
        "native_tokens_cached": g["native_tokens_cached"],
        "num_media_prompt": g["num_media_prompt"], "num_input_audio_prompt": None,
        "num_media_completion": 0, "num_search_results": None,
        "origin": g["origin"] or "", "http_referer": g["origin"],
        "app_title": g["app_title"], "is_byok": False, "external_user": None,
        "api_type": "completions", "router": g.get("router"), "status": g["status"],
        "provider_responses": responses, "service_tier": None, "num_fetches": None,
        "web_search_engine": None, "preset_id": None, "user_agent": g.get("user_agent"),
        "client": g.get("client"), "router_reason": g.get("router_reason"),
        "data_region": "global", "workspace_id": g["account_id"],
        "request_id": g.get("request_id"),
    }


def _instant(raw: str, field: str, end: bool) -> str:
    """ISO date, ISO date-time or unix seconds -> the stored timestamp form (UTC, ...Z).
    A bare date as an upper bound means the end of that day."""
    try:
        if raw.replace(".", "", 1).isdigit():
            at = datetime.fromtimestamp(float(raw), UTC)
        elif len(raw) == 10:
            at = datetime.combine(date.fromisoformat(raw), datetime.min.time(), UTC)
            if end:
                at += timedelta(days=1)
        else:
            at = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        raise bad_request(f"{field} must be an ISO 8601 date or date-time, or unix seconds",
                          field) from None
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _page_size(raw: str | None) -> int:
    if raw is None or raw == "":
        return 50
    if not raw.isdigit() or int(raw) < 1:
        raise bad_request(f"limit must be a positive integer (at most {MAX_PAGE} are "
                          "returned per page)", "limit")
    return min(int(raw), MAX_PAGE)


def _status(raw: str | None) -> str | None:
    if not raw:
        return None
    if raw in _STATUSES or (raw.isdigit() and len(raw) == 3):
        return raw
    raise bad_request("status must be success, error, cancelled or an HTTP status code",
                      "status")


def _scope(key: KeyRecord, q: dict[str, str]) -> tuple[str | None, str | None]:
    """(account_id, key_hash) the caller may see, narrowed by its own filters: an inference
    key sees its own generations, a provisioning key its account's, root all."""
    wanted_key = q.get("key") or None
    wanted_account = q.get("account") or q.get("account_id") or None
    if key.kind == "inference":
        # another key's hash matches nothing: the listing is simply empty
        return key.account_id, key.hash if wanted_key in (None, "me", key.hash) else "-"
    if wanted_key == "me":
        wanted_key = key.hash
    if key.kind == "provisioning":
        if wanted_account not in (None, "me", key.account_id):
            raise GatewayError(403, "a provisioning key sees only its own account",
                               "forbidden", {"field": "account"})
        return key.account_id, wanted_key
    return (key.account_id if wanted_account == "me" else wanted_account), wanted_key


class GenerationsHandler:
    def __init__(self, svc: Services) -> None:
        self.svc = svc

    async def list(self, req: Request) -> Response:
        key = await self.svc.auth.key(req)
        q = req.query
        account_id, key_hash = _scope(key, q)
        limit = _page_size(q.get("limit"))
        cursor = None
        if q.get("cursor"):
            cursor = queries.decode_cursor(q["cursor"])
            if cursor is None:
                raise bad_request("cursor is not one this server gave out", "cursor")
        f = GenerationFilter(
            account_id=account_id, key_hash=key_hash, model=q.get("model") or None,
            provider=q.get("provider") or None, app=q.get("app") or None,
            status=_status(q.get("status")),
            since=_instant(q["from"], "from", False) if q.get("from") else None,
            until=_instant(q["to"], "to", True) if q.get("to") else None,
        )
        await self.svc.ledger.flush()
        rows, nxt = await queries.list_generations(self.svc.repo.db, f, limit, cursor)
        data = [{**generation_view(r), "key_hash": r["key_hash"],
                 "content_stored": bool(r["content_stored"])} for r in rows]
        return json_response(200, {"data": data, "next_cursor": nxt})

    async def content(self, req: Request) -> Response:
        key = await self.svc.auth.key(req)
        gen_id = req.query.get("id")
        if not gen_id:
            raise bad_request("id is required: /generation/content?id=gen-…", "id")
        await self.svc.ledger.flush()
        g = await queries.generation_content(self.svc.repo.db, gen_id)
        if g is None or (key.kind != "root" and g["account_id"] != key.account_id):
            raise GatewayError(404, f"generation '{gen_id}' not found", "not_found")
        if g["prompt_content"] is None and g["completion_content"] is None:
            raise GatewayError(404, self._why_no_content(g), "not_found")
        messages = orjson.loads(g["prompt_content"]) if g["prompt_content"] else []
        return json_response(200, {"data": {
            "input": {"messages": messages},
            "output": {"completion": g["completion_content"], "reasoning": None},
            "error": None,
        }})

    def _why_no_content(self, g: dict[str, Any]) -> str:
        gid = g["id"]
        if g["status"] != 200:
            return (f"generation '{gid}' failed (status {g['status']}); no prompt or "
                    "completion is stored for a request that was not served")
        days = self.svc.account_settings(g["account_id"]).retain_days
        cutoff = datetime.now(UTC) - timedelta(days=days)
        if g["created_at"] < cutoff.isoformat().replace("+00:00", "Z"):
            return (f"the content of generation '{gid}' was deleted after the account's "
                    f"{days}-day retention (logging.retain_days)")
        return (f"no content was stored for generation '{gid}': content logging was off "
                "(logging.store_content: false) when it ran; only its metadata was kept")

    async def activity(self, req: Request) -> Response:
        key = await self.svc.auth.key(req)
        q = req.query
        today = datetime.now(UTC).date()
        day = q.get("date")
        if day:
            try:
                d = date.fromisoformat(day)
            except ValueError:
                raise bad_request("date must be YYYY-MM-DD", "date") from None
            if not today - timedelta(days=30) <= d <= today:
                raise bad_request("date must be within the last 30 days", "date")
            since = until = d.isoformat()
        else:
            since, until = (today - timedelta(days=30)).isoformat(), today.isoformat()
        group_by = q.get("group_by") or ""
        if group_by not in ("", "app"):
            raise bad_request("group_by must be 'app' (rows are always per day, model and "
                              "provider)", "group_by")
        account_id, key_hash = await self._activity_scope(key, q)
        await self.svc.ledger.flush()
        rows = await queries.activity_rows(self.svc.repo.db, since, until, account_id,
                                           key_hash, by_app=group_by == "app")
        data = []
        for r in rows:
            row = {
                "date": r["day"], "model": r["model"], "model_permaslug": r["model"],
                "endpoint_id": r["endpoint_id"], "provider_name": r["provider_name"],
                "provider": r["provider"],
                "usage": usd_float(r["usage"]), "byok_usage_inference": 0,
                "requests": int(r["requests"]), "prompt_tokens": int(r["prompt_tokens"] or 0),
                "completion_tokens": int(r["completion_tokens"] or 0),
                "reasoning_tokens": int(r["reasoning_tokens"] or 0),
                "cached_tokens": int(r["cached_tokens"] or 0),
            }
            if group_by == "app":
                row["app"] = r["app"]
            data.append(row)
        return json_response(200, {"data": data})

    async def _activity_scope(self, key: KeyRecord,
                              q: dict[str, str]) -> tuple[str | None, str | None]:
        """By default the caller's account, as OpenRouter's /activity; `key=me` narrows to
        the calling key, `key=<hash>` to one key of the account, root's `account_id` to
        another account."""
        wanted_key = q.get("key") or None
        account_id: str | None = key.account_id
        wanted_account = q.get("account_id") or None
        if wanted_account is not None and wanted_account != key.account_id:
            if key.kind != "root":
                raise GatewayError(403, "only the root key can read another account's "
                                   "activity", "forbidden", {"field": "account_id"})
            account_id = wanted_account
        if wanted_key in (None, "me"):
            return account_id, key.hash if wanted_key == "me" else None
        if key.kind == "inference" and wanted_key != key.hash:
            raise GatewayError(403, "an inference key sees only its own activity",
                               "forbidden", {"field": "key"})
        row = await self.svc.repo.get_key(wanted_key)
        if row is None or (key.kind != "root" and row["account_id"] != key.account_id):
            raise GatewayError(404, f"no key with hash '{wanted_key}'", "not_found",
                               {"field": "key"})
        return (row["account_id"] if key.kind == "root" and not wanted_account
                else account_id), wanted_key
