"""Accounts, keys, credit grants and generation queries: every SQL statement lives here."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

KEY_PREFIX = "sk-sb-v1-"
DEFAULT_ACCOUNT = "default"
KINDS = ("inference", "provisioning", "root")
RESETS = ("daily", "weekly", "monthly")


def hash_key(key: str) -> str:
    """Keys are 256-bit random strings, so a plain SHA-256 is a safe, fast lookup hash."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_hex(32)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def period_start(reset: str | None, at: datetime | None = None) -> str:
    """Start (UTC date) of the current limit period; '' when the limit never resets."""
    at = at or datetime.now(UTC)
    day = at.date()
    if reset == "daily":
        return day.isoformat()
    if reset == "weekly":
        return (day - timedelta(days=day.weekday())).isoformat()
    if reset == "monthly":
        return day.replace(day=1).isoformat()
    return ""


@dataclass(frozen=True, slots=True)
class KeyRecord:
    hash: str
    account_id: str
    kind: str
    name: str
    label: str
    limit_pico: int | None
    limit_reset: str | None
    disabled: bool
    lease_until: float | None = None  # a root key from SWITCHBOARD_ADMIN_KEY: its lease

    @property
    def can_infer(self) -> bool:
        return self.kind == "inference"

    @property
    def can_manage(self) -> bool:
        return self.kind in ("provisioning", "root")


def _key_record(row: dict[str, Any]) -> KeyRecord:
    return KeyRecord(row["hash"], row["account_id"], row["kind"], row["name"], row["label"],
                     row["limit_pico"], row["limit_reset"], bool(row["disabled"]),
                     row.get("lease_until"))


class Repo:
    def __init__(self, db: Any) -> None:
        self.db = db

    # -- accounts --------------------------------------------------------------------

    async def ensure_default_account(self) -> None:
        if not await self.db.fetchone("SELECT id FROM accounts WHERE id = $1", DEFAULT_ACCOUNT):
            await self.db.execute(
                "INSERT INTO accounts (id, name, created_at) VALUES ($1, $2, $3) "
                "ON CONFLICT DO NOTHING", DEFAULT_ACCOUNT, DEFAULT_ACCOUNT, now_iso())

    async def create_account(self, name: str, data_collection: str = "allow") -> dict[str, Any]:
        acc_id = "acct_" + secrets.token_hex(8)
        await self.db.execute(
            "INSERT INTO accounts (id, name, data_collection, created_at) VALUES ($1, $2, $3, $4)",
            acc_id, name, data_collection, now_iso())
        row = await self.get_account(acc_id)
        assert row is not None
        return row

    async def get_account(self, account_id: str) -> dict[str, Any] | None:
        return await self.db.fetchone("SELECT * FROM accounts WHERE id = $1", account_id)

    async def account_by_name(self, name: str) -> dict[str, Any] | None:
        return await self.db.fetchone("SELECT * FROM accounts WHERE name = $1", name)

    async def list_accounts(self) -> list[dict[str, Any]]:
        return await self.db.fetchall("SELECT * FROM accounts ORDER BY created_at, id")

    async def grant_credits(
        self, account_id: str, amount_pico: int, max_total_pico: int = 2**62
    ) -> dict[str, Any] | None:
        """Add credits; None when the account is missing or would pass `max_total_pico`."""
        async with self.db.transaction() as tx:
            n = await tx.execute(
                "UPDATE accounts SET credits = credits + $2, "
                "charged_total = charged_total + $2 WHERE id = $1 AND credits <= $3",
                account_id, amount_pico, max_total_pico - amount_pico)
            if n != 1:
                return None
            await tx.execute(
                "INSERT INTO credit_grants (id, account_id, amount, created_at) "
                "VALUES ($1, $2, $3, $4)",
                "cg_" + secrets.token_hex(8), account_id, amount_pico, now_iso())
        return await self.get_account(account_id)

    # -- keys ------------------------------------------------------------------------

    async def create_key(
        self, account_id: str, name: str, kind: str = "inference", limit_pico: int | None = None,
        limit_reset: str | None = None, key: str | None = None,
    ) -> tuple[str, dict[str, Any]]:
        key = key or new_key()
        h = hash_key(key)
        label = f"{key[:12]}...{key[-3:]}"
        await self.db.execute(
            "INSERT INTO api_keys (hash, account_id, kind, name, label, limit_pico, limit_reset, "
            "period_start, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            h, account_id, kind, name, label, limit_pico, limit_reset,
            period_start(limit_reset), now_iso())
        row = await self.get_key(h)
        assert row is not None
        return key, row

    async def get_key(self, key_hash: str) -> dict[str, Any] | None:
        return await self.db.fetchone("SELECT * FROM api_keys WHERE hash = $1", key_hash)

    async def key_record(self, key_hash: str) -> KeyRecord | None:
        row = await self.get_key(key_hash)
        return _key_record(row) if row else None

    async def list_keys(
        self, account_id: str | None, offset: int = 0, limit: int = 100,
        include_root: bool = False,
    ) -> list[dict[str, Any]]:
        kinds = "" if include_root else " AND kind <> 'root'"
        if account_id is None:
            return await self.db.fetchall(
                f"SELECT * FROM api_keys WHERE TRUE{kinds} ORDER BY created_at, hash "
                "LIMIT $2 OFFSET $1", offset, limit)
        return await self.db.fetchall(
            f"SELECT * FROM api_keys WHERE account_id = $1{kinds} "
            "ORDER BY created_at, hash LIMIT $3 OFFSET $2", account_id, offset, limit)

    async def update_key(self, key_hash: str, fields: dict[str, Any]) -> dict[str, Any] | None:
        allowed = ("name", "disabled", "limit_pico", "limit_reset")
        sets, args = [], [key_hash]
        for name in allowed:
            if name in fields:
                args.append(fields[name])
                sets.append(f"{name} = ${len(args)}")
        if "limit_reset" in fields:
            args.append(period_start(fields["limit_reset"]))
            sets.append(f"period_start = ${len(args)}")
            sets.append("period_usage = 0")
        args.append(now_iso())
        sets.append(f"updated_at = ${len(args)}")
        await self.db.execute(f"UPDATE api_keys SET {', '.join(sets)} WHERE hash = $1", *args)
        return await self.get_key(key_hash)

    async def delete_key(self, key_hash: str) -> bool:
        return await self.db.execute("DELETE FROM api_keys WHERE hash = $1", key_hash) == 1

    async def root_key_exists(self) -> bool:
        return bool(await self.db.fetchone("SELECT hash FROM api_keys WHERE kind = 'root'"))

    async def key_usage_windows(self, key_hash: str) -> dict[str, int]:
        today = datetime.now(UTC).date()
        week = (today - timedelta(days=today.weekday())).isoformat()
        month = today.replace(day=1).isoformat()
        row = await self.db.fetchone(
            "SELECT COALESCE(SUM(CASE WHEN day = $2 THEN cost ELSE 0 END), 0) AS daily, "
            "COALESCE(SUM(CASE WHEN day >= $3 THEN cost ELSE 0 END), 0) AS weekly, "
            "COALESCE(SUM(CASE WHEN day >= $4 THEN cost ELSE 0 END), 0) AS monthly "
            "FROM generations WHERE key_hash = $1 AND day >= $5",
            key_hash, today.isoformat(), week, month, min(week, month))
        return {k: int(v) for k, v in (row or {}).items()}

    async def free_requests_today(self, key_hash: str) -> int:
        row = await self.db.fetchone(
            "SELECT COUNT(*) AS n FROM generations WHERE key_hash = $1 AND day = $2 "
            "AND model LIKE '%:free'", key_hash, datetime.now(UTC).date().isoformat())
        return int(row["n"]) if row else 0

    # -- generations -----------------------------------------------------------------

    async def get_generation(self, gen_id: str) -> dict[str, Any] | None:
        return await self.db.fetchone("SELECT * FROM generations WHERE id = $1", gen_id)

    async def purge_content(self, older_than_iso: str, batch: int = 500) -> int:
        """Forget stored prompts and completions older than the cutoff, a bounded batch per
        statement (other statements run in between), read from the index of rows that still
        hold content: the cost follows what is left to purge, not the length of history."""
        total = 0
        while True:
            n = await self.db.execute(
                "UPDATE generations SET prompt_content = NULL, completion_content = NULL "
                "WHERE id IN (SELECT id FROM generations WHERE created_at < $1 AND "
                "(prompt_content IS NOT NULL OR completion_content IS NOT NULL) "
                "ORDER BY created_at LIMIT $2)", older_than_iso, batch)
            total += n
            if n < batch:
                return total
            await asyncio.sleep(0)


def generation_row(**fields: Any) -> dict[str, Any]:
    """Normalise a generation record for insertion (JSON columns serialised)."""
    if isinstance(fields.get("provider_responses"), list):
        fields["provider_responses"] = orjson.dumps(fields["provider_responses"]).decode()
    fields.setdefault("created_at", now_iso())
    fields.setdefault("day", fields["created_at"][:10])
    for name in _NOT_NULL_COUNTS:
        if fields.get(name) is None:
            fields[name] = 0
    for name in ("streamed", "cancelled"):
        fields[name] = bool(fields.get(name))
    fields.setdefault("status", 200)
    return fields


_NOT_NULL_COUNTS = (
    "cost", "provider_cost", "tokens_prompt", "tokens_completion", "native_tokens_prompt",
    "native_tokens_completion", "native_tokens_reasoning", "native_tokens_cached",
    "native_tokens_cache_write", "num_media_prompt",
)

