"""Key management (/keys), the calling key (/auth/key, /key)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from switchboard.api.query import MAX_OFFSET, query_int
from switchboard.billing.bounds import MAX_KEY_LIMIT_USD
from switchboard.billing.pricing import to_pico, usd_float
from switchboard.errors import GatewayError, bad_request
from switchboard.limits.limiter import FREE_RPD, FREE_RPD_PAID, FREE_RPM, PAID_THRESHOLD_PICO
from switchboard.store import root_keys
from switchboard.store.repo import DEFAULT_ACCOUNT, RESETS, KeyRecord, period_start
from switchboard.web import Request, Response, json_response

if TYPE_CHECKING:
    from switchboard.app import Services



def parse_limit(raw: Any, field: str = "limit") -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise bad_request(f"{field} must be a number of USD or null", field)
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise bad_request(f"{field} must be a number of USD or null", field) from None
    if not value.is_finite() or value < 0:
        raise bad_request(f"{field} must be zero or positive", field)
    if value > MAX_KEY_LIMIT_USD:
        raise bad_request(f"{field} must be at most {MAX_KEY_LIMIT_USD:,} USD", field)
    return to_pico(value)


def parse_reset(raw: Any) -> str | None:
    if raw in (None, "none", "never"):
        return None
    if raw not in RESETS:
        raise bad_request("limit_reset must be one of daily, weekly, monthly or null",
                          "limit_reset")
    return str(raw)


def _last_root() -> GatewayError:
    return GatewayError(409, "this is the last working root key: create or enable another "
                        "first (switchboard admin rotate replaces it)", "conflict")


class KeysHandler:
    def __init__(self, svc: Services) -> None:
        self.svc = svc

    async def key_view(self, row: dict[str, Any]) -> dict[str, Any]:
        windows = await self.svc.repo.key_usage_windows(row["hash"])
        limit = row["limit_pico"]
        remaining = None
        if limit is not None:
            used = row["period_usage"] if row["period_start"] == period_start(
                row["limit_reset"]) else 0
            remaining = usd_float(max(0, limit - used))
        return {
            "hash": row["hash"], "name": row["name"], "label": row["label"],
            "disabled": bool(row["disabled"]),
            "limit": usd_float(limit) if limit is not None else None,
            "limit_remaining": remaining, "limit_reset": row["limit_reset"],
            "include_byok_in_limit": False,
            "usage": usd_float(row["usage"]), "usage_daily": usd_float(windows.get("daily")),
            "usage_weekly": usd_float(windows.get("weekly")),
            "usage_monthly": usd_float(windows.get("monthly")),
            "byok_usage": 0, "byok_usage_daily": 0, "byok_usage_weekly": 0,
            "byok_usage_monthly": 0,
            "created_at": row["created_at"], "updated_at": row["updated_at"],
            "creator_user_id": None, "workspace_id": row["account_id"],
            "external_user": None, "last_used_at": None, "expires_at": None,
            "account_id": row["account_id"],
            "is_provisioning_key": row["kind"] in ("provisioning", "root"),
        }

    async def _owned(self, caller: KeyRecord, key_hash: str) -> dict[str, Any]:
        row = await self.svc.repo.get_key(key_hash)
        if row is None or (caller.kind != "root" and (
            row["kind"] == "root" or row["account_id"] != caller.account_id)):
            raise GatewayError(404, f"no key with hash '{key_hash}'", "not_found")
        return row

    async def list(self, req: Request) -> Response:
        caller = await self.svc.auth.manager_key(req)
        offset = query_int(req, "offset", 0, 0, MAX_OFFSET)
        limit = query_int(req, "limit", 100, 1, 100)
        account = req.query.get("account_id") if caller.kind == "root" else caller.account_id
        rows = await self.svc.repo.list_keys(account, offset, limit,
                                             include_root=caller.kind == "root")
        if req.query.get("include_disabled") == "false":
            rows = [r for r in rows if not r["disabled"]]
        return json_response(200, {"data": [await self.key_view(r) for r in rows]})

    async def create(self, req: Request) -> Response:
        svc = self.svc
        caller = await svc.auth.manager_key(req)
        body = await req.json(svc.settings.max_body_bytes)
        if not isinstance(body, dict):
            raise bad_request("request body must be a JSON object")
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise bad_request("name is required and must be a non-empty string", "name")
        limit = parse_limit(body.get("limit"))
        reset = parse_reset(body.get("limit_reset"))
        provisioning = body.get("provisioning", False)
        if not isinstance(provisioning, bool):
            raise bad_request("provisioning must be a boolean", "provisioning")
        if provisioning and caller.kind != "root":
            raise GatewayError(403, "only the root key can create provisioning keys", "forbidden")
        account = caller.account_id
        if caller.kind == "root":
            account = body.get("account_id") or DEFAULT_ACCOUNT
            if not isinstance(account, str) or await svc.repo.get_account(account) is None:
                raise GatewayError(404, f"no account '{account}'", "not_found",
                                   {"field": "account_id"})
        key, row = await svc.repo.create_key(
            account, name.strip(), "provisioning" if provisioning else "inference", limit, reset)
        return json_response(201, {"key": key, "data": await self.key_view(row)})

    async def get(self, req: Request) -> Response:
        caller = await self.svc.auth.manager_key(req)
        row = await self._owned(caller, req.path_params["hash"])
        return json_response(200, {"data": await self.key_view(row)})

    async def update(self, req: Request) -> Response:
        svc = self.svc
        caller = await svc.auth.manager_key(req)
        row = await self._owned(caller, req.path_params["hash"])
        body = await req.json(svc.settings.max_body_bytes)
        if not isinstance(body, dict):
            raise bad_request("request body must be a JSON object")
        unknown = set(body) - {"name", "disabled", "limit", "limit_reset",
                               "include_byok_in_limit"}
        if unknown:
            raise bad_request(f"unknown field(s): {', '.join(sorted(unknown))}",
                              sorted(unknown)[0])
        fields: dict[str, Any] = {}
        if "name" in body:
            if not isinstance(body["name"], str) or not body["name"].strip():
                raise bad_request("name must be a non-empty string", "name")
            fields["name"] = body["name"].strip()
        if "disabled" in body:
            if not isinstance(body["disabled"], bool):
                raise bad_request("disabled must be a boolean", "disabled")
            fields["disabled"] = body["disabled"]
        if "limit" in body:
            fields["limit_pico"] = parse_limit(body["limit"])
        if "limit_reset" in body:
            fields["limit_reset"] = parse_reset(body["limit_reset"])
        retiring = row["kind"] == "root" and fields.get("disabled") is True
        if retiring and not await root_keys.retire(svc.repo.db, row["hash"], delete=False):
            raise _last_root()
        updated = await svc.repo.update_key(row["hash"], fields)
        svc.auth.invalidate(row["hash"])
        await svc.publish_key_change(row["hash"])
        if updated is None:  # deleted meanwhile by a concurrent DELETE
            raise GatewayError(404, f"no key with hash '{row['hash']}'", "not_found")
        return json_response(200, {"data": await self.key_view(updated)})

    async def delete(self, req: Request) -> Response:
        svc = self.svc
        caller = await svc.auth.manager_key(req)
        row = await self._owned(caller, req.path_params["hash"])
        if row["kind"] == "root":
            if not await root_keys.retire(svc.repo.db, row["hash"], delete=True):
                raise _last_root()
            deleted = True
        else:
            deleted = await svc.repo.delete_key(row["hash"])
        svc.auth.invalidate(row["hash"])
        await svc.publish_key_change(row["hash"])
        if not deleted:  # a concurrent DELETE won
            raise GatewayError(404, f"no key with hash '{row['hash']}'", "not_found")
        return json_response(200, {"deleted": True})

    async def current(self, req: Request) -> Response:
        svc = self.svc
        key = await svc.auth.key(req)
        await svc.ledger.flush()
        row = await svc.repo.get_key(key.hash)
        account = await svc.repo.get_account(key.account_id)
        if row is None or account is None:  # deleted since the cached lookup
            raise GatewayError(401, "Invalid API key", "unauthorized")
        view = await self.key_view(row)
        balance = usd_float(account["credits"] - account["usage"])
        free_rpm, free_rpd = FREE_RPM, FREE_RPD
        if int(account["charged_total"]) >= PAID_THRESHOLD_PICO:
            free_rpd = FREE_RPD_PAID
        free_used = await svc.repo.free_requests_today(key.hash)
        data = {
            "label": view["label"], "name": view["name"], "limit": view["limit"],
            "limit_remaining": view["limit_remaining"], "limit_reset": view["limit_reset"],
            "usage": view["usage"], "usage_daily": view["usage_daily"],
            "usage_weekly": view["usage_weekly"], "usage_monthly": view["usage_monthly"],
            "byok_usage": 0, "byok_usage_daily": 0, "byok_usage_weekly": 0,
            "byok_usage_monthly": 0, "include_byok_in_limit": False,
            "is_free_tier": int(account["charged_total"]) == 0,
            "is_provisioning_key": key.kind in ("provisioning", "root"),
            "is_management_key": key.kind in ("provisioning", "root"),
            "creator_user_id": None, "expires_at": None,
            "rate_limit": {"requests": free_rpm, "interval": "1m",
                           "note": "per key and model limits apply; see X-RateLimit-* headers"},
            "free_model_daily_requests": {"limit": free_rpd, "used": free_used,
                                          "remaining": max(0, free_rpd - free_used)},
            "allowed_data_regions": ["global"], "budgets": [], "effective_budget": None,
            "organization_id": None, "workspace_id": key.account_id,
            "account_id": key.account_id, "balance": balance,
        }
        return json_response(200, {"data": data})
