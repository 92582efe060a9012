"""Read-side queries for the console and its API: generation listings, grouped activity,
account settings and per-account content retention. SQL in PostgreSQL's `$n` form."""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass
from typing import Any

from switchboard.store.repo import now_iso

# everything a listing shows; the stored prompt and completion stay out of listings
_LIST_COLUMNS = (
    "id, account_id, key_hash, model, provider, provider_name, endpoint_id, upstream_id, "
    "cost, provider_cost, tokens_prompt, tokens_completion, native_tokens_prompt, "
    "native_tokens_completion, native_tokens_reasoning, native_tokens_cached, "
    "native_tokens_cache_write, num_media_prompt, streamed, cancelled, latency, "
    "generation_time, finish_reason, native_finish_reason, origin, app_title, status, "
    "provider_responses, day, created_at, "
    "(prompt_content IS NOT NULL OR completion_content IS NOT NULL) AS content_stored"
)


@dataclass(frozen=True, slots=True)
class GenerationFilter:
    """Scope and filters of a /generations listing; None means 'not filtered'."""

    account_id: str | None = None
    key_hash: str | None = None
    model: str | None = None
    provider: str | None = None
    app: str | None = None
    status: str | None = None  # "success" | "error" | "cancelled" | an HTTP status
    since: str | None = None  # ISO timestamps, inclusive lower / exclusive upper bound
    until: str | None = None


def encode_cursor(created_at: str, gen_id: str) -> str:
    return base64.urlsafe_b64encode(f"{created_at}|{gen_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str] | None:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    created_at, sep, gen_id = raw.partition("|")
    return (created_at, gen_id) if sep and created_at and gen_id else None


class _Where:
    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.args: list[Any] = []

    def arg(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"

    def add(self, clause: str) -> None:
        self.clauses.append(clause)

    def sql(self) -> str:
        return " WHERE " + " AND ".join(self.clauses) if self.clauses else ""


def _filtered(f: GenerationFilter) -> _Where:
    w = _Where()
    if f.account_id is not None:
        w.add(f"account_id = {w.arg(f.account_id)}")
    if f.key_hash is not None:
        w.add(f"key_hash = {w.arg(f.key_hash)}")
    if f.model is not None:
        w.add(f"model = {w.arg(f.model)}")
    if f.provider is not None:
        p = w.arg(f.provider)
        w.add(f"(provider = {p} OR provider_name = {p})")
    if f.app is not None:
        a = w.arg(f.app)
        w.add(f"(app_title = {a} OR origin = {a})")
    if f.status == "success":
        w.add("status = 200")
    elif f.status == "error":
        w.add("status <> 200")
    elif f.status == "cancelled":
        w.add("cancelled = TRUE")
    elif f.status is not None:
        w.add(f"status = {w.arg(int(f.status))}")
    if f.since is not None:
        w.add(f"created_at >= {w.arg(f.since)}")
    if f.until is not None:
        w.add(f"created_at < {w.arg(f.until)}")
    return w


async def list_generations(db: Any, f: GenerationFilter, limit: int,
                           cursor: tuple[str, str] | None) -> tuple[list[dict[str, Any]],
                                                                    str | None]:
    """Newest first; returns one page and the cursor of the next (None on the last page)."""
    w = _filtered(f)
    if cursor is not None:
        c, i = w.arg(cursor[0]), w.arg(cursor[1])
        w.add(f"(created_at < {c} OR (created_at = {c} AND id < {i}))")
    rows = await db.fetchall(
        f"SELECT {_LIST_COLUMNS} FROM generations{w.sql()} "
        f"ORDER BY created_at DESC, id DESC LIMIT {w.arg(limit + 1)}", *w.args)
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = encode_cursor(rows[-1]["created_at"], rows[-1]["id"]) if more and rows else None
    return rows, nxt


async def generation_content(db: Any, gen_id: str) -> dict[str, Any] | None:
    return await db.fetchone(
        "SELECT id, account_id, key_hash, status, created_at, prompt_content, "
        "completion_content FROM generations WHERE id = $1", gen_id)


async def activity_rows(db: Any, since: str, until: str, account_id: str | None,
                        key_hash: str | None, by_app: bool) -> list[dict[str, Any]]:
    """Successful requests per day × model × provider (× app), the /activity grouping."""
    w = _Where()
    w.add(f"day >= {w.arg(since)}")
    w.add(f"day <= {w.arg(until)}")
    w.add("status = 200")
    if account_id is not None:
        w.add(f"account_id = {w.arg(account_id)}")
    if key_hash is not None:
        w.add(f"key_hash = {w.arg(key_hash)}")
    group = "day, model, provider, provider_name, endpoint_id"
    app = ""
    if by_app:
        app = ", COALESCE(app_title, origin) AS app"
        group += ", COALESCE(app_title, origin)"
    return await db.fetchall(
        f"SELECT day, model, provider, provider_name, endpoint_id{app}, "
        "COUNT(*) AS requests, SUM(cost) AS usage, SUM(tokens_prompt) AS prompt_tokens, "
        "SUM(tokens_completion) AS completion_tokens, "
        "SUM(native_tokens_reasoning) AS reasoning_tokens, "
        f"SUM(native_tokens_cached) AS cached_tokens FROM generations{w.sql()} "
        f"GROUP BY {group} ORDER BY day DESC, model, provider", *w.args)


async def credit_grants(db: Any, account_id: str | None, limit: int = 100) -> list[dict[str, Any]]:
    if account_id is None:
        return await db.fetchall(
            "SELECT * FROM credit_grants ORDER BY created_at DESC, id LIMIT $1", limit)
    return await db.fetchall(
        "SELECT * FROM credit_grants WHERE account_id = $1 ORDER BY created_at DESC, id "
        "LIMIT $2", account_id, limit)


async def update_account_settings(db: Any, account_id: str,
                                  fields: dict[str, Any]) -> dict[str, Any] | None:
    """Set any of data_collection, store_content, retain_days (None: back to the default)."""
    w = _Where()
    sets = []
    for name in ("data_collection", "store_content", "retain_days"):
        if name in fields:
            sets.append(f"{name} = {w.arg(fields[name])}")
    sets.append(f"settings_updated_at = {w.arg(now_iso())}")
    await db.execute(
        f"UPDATE accounts SET {', '.join(sets)} WHERE id = {w.arg(account_id)}", *w.args)
    return await db.fetchone("SELECT * FROM accounts WHERE id = $1", account_id)


async def purge_account_content(db: Any, older_than: str, account_ids: list[str],
                                exclude: bool, batch: int = 500) -> int:
    """Drop stored prompts and completions older than a cutoff: for the given accounts, or
    (exclude=True) for every account except them. Bounded batches, as Repo.purge_content,
    so other statements run in between however much is due."""
    w = _Where()
    w.add(f"created_at < {w.arg(older_than)}")
    w.add("(prompt_content IS NOT NULL OR completion_content IS NOT NULL)")
    if account_ids:
        marks = ", ".join(w.arg(a) for a in account_ids)
        w.add(f"account_id {'NOT IN' if exclude else 'IN'} ({marks})")
    elif not exclude:
        return 0
    sql = ("UPDATE generations SET prompt_content = NULL, completion_content = NULL "
           f"WHERE id IN (SELECT id FROM generations{w.sql()} ORDER BY created_at "
           f"LIMIT {w.arg(batch)})")
    total = 0
    while True:
        n = int(await db.execute(sql, *w.args))
        total += n
        if n < batch:
            return total
        await asyncio.sleep(0)
