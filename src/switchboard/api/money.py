"""Credits, accounts, activity and generation records."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from switchboard.api.generations import generation_view
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

    async def generation(self, req: Request) -> Response:
        key = await self.svc.auth.key(req)
        gen_id = req.query.get("id")
        if not gen_id:
            raise bad_request("id is required: /generation?id=gen-…", "id")
        await self.svc.ledger.flush()
        g = await self.svc.repo.get_generation(gen_id)
        if g is None or (key.kind != "root" and g["account_id"] != key.account_id):
            raise GatewayError(404, f"generation '{gen_id}' not found", "not_found")
        data = generation_view(g)
        return json_response(200, {"data": data})
