"""One account's settings (GET/PATCH /accounts/{id}, `me` for the caller's) and its charges
(GET /credits/history)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from switchboard.billing.pricing import usd_float
from switchboard.errors import GatewayError, bad_request
from switchboard.store import queries
from switchboard.store.account_settings import effective_settings
from switchboard.store.repo import KeyRecord
from switchboard.web import Request, Response, json_response

if TYPE_CHECKING:
    from switchboard.app import Services

MAX_RETAIN_DAYS = 3650


class AccountsHandler:
    def __init__(self, svc: Services) -> None:
        self.svc = svc

    def view(self, row: dict[str, Any]) -> dict[str, Any]:
        # from the row itself: it may be fresher than the in-memory copy
        eff = effective_settings(row, self.svc.settings.file.logging)
        return {
            "id": row["id"], "name": row["name"],
            "total_credits": usd_float(row["credits"]), "total_usage": usd_float(row["usage"]),
            "created_at": row["created_at"], "data_collection": eff.data_collection,
            "logging": {"store_content": eff.store_content, "retain_days": eff.retain_days,
                        "source": "config" if eff.logging_is_default else "account"},
            "updated_at": row.get("settings_updated_at"),
        }

    async def _target(self, req: Request) -> tuple[KeyRecord, dict[str, Any]]:
        key = await self.svc.auth.manager_key(req)
        wanted = req.path_params["id"]
        account_id = key.account_id if wanted == "me" else wanted
        if key.kind != "root" and account_id != key.account_id:
            raise GatewayError(403, "a provisioning key manages only its own account",
                               "forbidden")
        await self.svc.ledger.flush()
        row = await self.svc.repo.get_account(account_id)
        if row is None:
            raise GatewayError(404, f"no account '{account_id}'", "not_found")
        return key, row

    async def get(self, req: Request) -> Response:
        _, row = await self._target(req)
        return json_response(200, {"data": self.view(row)})

    async def update(self, req: Request) -> Response:
        svc = self.svc
        _, row = await self._target(req)
        body = await req.json(svc.settings.max_body_bytes)
        fields = parse_settings(body)
        updated = await queries.update_account_settings(svc.repo.db, row["id"], fields)
        assert updated is not None
        svc.note_account(updated)
        await svc.publish_account_change(row["id"])
        return json_response(200, {"data": self.view(updated)})

    async def credit_history(self, req: Request) -> Response:
        key = await self.svc.auth.key(req)
        account_id: str | None = key.account_id
        wanted = req.query.get("account_id")
        if key.kind == "root":
            account_id = wanted or None  # root: every account unless one is named
        elif wanted and wanted != key.account_id:
            raise GatewayError(403, "only the root key can read another account's charges",
                               "forbidden", {"field": "account_id"})
        rows = await queries.credit_grants(self.svc.repo.db, account_id)
        return json_response(200, {"data": [
            {"id": r["id"], "account_id": r["account_id"], "amount": usd_float(r["amount"]),
             "created_at": r["created_at"]} for r in rows]})


def parse_settings(body: Any) -> dict[str, Any]:
    """The PATCH body -> columns to set; a null logging field goes back to the default."""
    if not isinstance(body, dict):
        raise bad_request("request body must be a JSON object")
    unknown = sorted(set(body) - {"data_collection", "logging"})
    if unknown:
        raise bad_request(f"unknown field(s): {', '.join(unknown)}; settable are "
                          "data_collection and logging", unknown[0])
    fields: dict[str, Any] = {}
    if "data_collection" in body:
        if body["data_collection"] not in ("allow", "deny"):
            raise bad_request("data_collection must be 'allow' or 'deny'", "data_collection")
        fields["data_collection"] = body["data_collection"]
    if "logging" in body:
        log = body["logging"]
        if not isinstance(log, dict):
            raise bad_request("logging must be an object: {store_content, retain_days}",
                              "logging")
        unknown = sorted(set(log) - {"store_content", "retain_days"})
        if unknown:
            names = ", ".join(f"logging.{u}" for u in unknown)
            raise bad_request(f"unknown field(s): {names}; settable are logging.store_content"
                              " and logging.retain_days",
                              f"logging.{unknown[0]}")
        if "store_content" in log:
            store = log["store_content"]
            if store is not None and not isinstance(store, bool):
                raise bad_request("logging.store_content must be true, false or null",
                                  "logging.store_content")
            fields["store_content"] = store
        if "retain_days" in log:
            days = log["retain_days"]
            if days is not None and (isinstance(days, bool) or not isinstance(days, int)
                                     or not 0 <= days <= MAX_RETAIN_DAYS):
                raise bad_request(f"logging.retain_days must be an integer from 0 to "
                                  f"{MAX_RETAIN_DAYS}, or null", "logging.retain_days")
            fields["retain_days"] = days
    return fields
