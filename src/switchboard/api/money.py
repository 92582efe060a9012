"""Credits, accounts, activity and generation records."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import orjson

from switchboard.billing.bounds import MAX_CHARGE_USD, MAX_CREDITS_USD
from switchboard.billing.pricing import to_pico, usd_float
from switchboard.errors import GatewayError, bad_request
from switchboard.store.repo import DEFAULT_ACCOUNT
from switchboard.web import Request, Response, json_response

if TYPE_CHECKING:
    from switchboard.app import Services



def _account_view(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "total_credits": usd_float(row["credits"]),
            "total_usage": usd_float(row["usage"]), "created_at": row["created_at"],
            "data_collection": row.get("data_collection") or "allow"}


class MoneyHandler:
    def __init__(self, svc: Services) -> None:
        self.svc = svc

    async def credits(self, req: Request) -> Response:
        key = await self.svc.auth.key(req)
        await self.svc.ledger.flush()
        account_id = key.account_id
        if key.kind == "root" and req.query.get("account_id"):
            account_id = req.query["account_id"]
        acc = await self.svc.repo.get_account(account_id)
        if acc is None:
            raise GatewayError(404, f"no account '{account_id}'", "not_found")
        return json_response(200, {"data": {"total_credits": usd_float(acc["credits"]),
                                            "total_usage": usd_float(acc["usage"])}})

    async def charge(self, req: Request) -> Response:
        svc = self.svc
        await svc.auth.root_key(req)
        body = await req.json(svc.settings.max_body_bytes)
        if not isinstance(body, dict):
            raise bad_request("request body must be a JSON object")
        raw = body.get("amount")
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise bad_request("amount is required: a positive number of USD", "amount")
        try:
            amount = Decimal(str(raw))
        except InvalidOperation:
            raise bad_request("amount must be a number of USD", "amount") from None
        if not amount.is_finite() or amount <= 0 or to_pico(min(amount, MAX_CHARGE_USD)) < 1:
            raise bad_request("amount must be a positive number of USD", "amount")
        if amount > MAX_CHARGE_USD:
            raise bad_request(f"amount must be at most {MAX_CHARGE_USD:,} USD per charge",
                              "amount")
        account_id = body.get("account_id") or DEFAULT_ACCOUNT
        if not isinstance(account_id, str):
            raise bad_request("account_id must be a string", "account_id")
        if await svc.repo.get_account(account_id) is None:
            raise GatewayError(404, f"no account '{account_id}'", "not_found",
                               {"field": "account_id"})
        acc = await svc.repo.grant_credits(account_id, to_pico(amount),
                                           to_pico(MAX_CREDITS_USD))
        if acc is None:
            raise bad_request(f"amount: an account's credits total at most "
                              f"{MAX_CREDITS_USD:,} USD; this charge would pass it", "amount")
        svc.note_account(acc)
        return json_response(200, {"data": {"account_id": acc["id"],
                                            "total_credits": usd_float(acc["credits"]),
                                            "total_usage": usd_float(acc["usage"])}})

    async def list_accounts(self, req: Request) -> Response:
        await self.svc.auth.root_key(req)
        await self.svc.ledger.flush()
        rows = await self.svc.repo.list_accounts()
        return json_response(200, {"data": [_account_view(r) for r in rows]})

    async def create_account(self, req: Request) -> Response:
        svc = self.svc
        await svc.auth.root_key(req)
        body = await req.json(svc.settings.max_body_bytes)
        name = body.get("name") if isinstance(body, dict) else None
        if not isinstance(name, str) or not name.strip():
            raise bad_request("name is required and must be a non-empty string", "name")
        if await svc.repo.account_by_name(name.strip()):
            raise GatewayError(409, f"an account named '{name.strip()}' exists", "conflict",
                               {"field": "name"})
        policy = body.get("data_collection", "allow")
        if policy not in ("allow", "deny"):
            raise bad_request("data_collection must be 'allow' or 'deny'", "data_collection")
        row = await svc.repo.create_account(name.strip(), policy)
        svc.note_account(row)
        return json_response(201, {"data": _account_view(row)})

    async def activity(self, req: Request) -> Response:
        key = await self.svc.auth.key(req)
        await self.svc.ledger.flush()
        today = datetime.now(UTC).date()
        day = req.query.get("date")
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
        rows = await self.svc.repo.activity(key.account_id, since, until)
        data = [{
            "date": r["day"], "model": r["model"], "model_permaslug": r["model"],
            "endpoint_id": r["endpoint_id"], "provider_name": r["provider_name"],
            "provider": r["provider"],
            "usage": usd_float(r["usage"]), "byok_usage_inference": 0,
            "requests": int(r["requests"]), "prompt_tokens": int(r["prompt_tokens"] or 0),
            "completion_tokens": int(r["completion_tokens"] or 0),
            "reasoning_tokens": int(r["reasoning_tokens"] or 0),
            "cached_tokens": int(r["cached_tokens"] or 0),
        } for r in rows]
        return json_response(200, {"data": data})

    async def generation(self, req: Request) -> Response:
        key = await self.svc.auth.key(req)
        gen_id = req.query.get("id")
        if not gen_id:
            raise bad_request("id is required: /generation?id=gen-…", "id")
        await self.svc.ledger.flush()
        g = await self.svc.repo.get_generation(gen_id)
        if g is None or (key.kind != "root" and g["account_id"] != key.account_id):
            raise GatewayError(404, f"generation '{gen_id}' not found", "not_found")
        responses = orjson.loads(g["provider_responses"]) if g["provider_responses"] else []
        total = usd_float(g["cost"])
        data = {
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
            "api_type": "completions", "router": None, "status": g["status"],
            "provider_responses": responses, "service_tier": None, "num_fetches": None,
            "web_search_engine": None, "preset_id": None, "user_agent": None,
            "data_region": "global", "workspace_id": g["account_id"],
        }
        return json_response(200, {"data": data})
