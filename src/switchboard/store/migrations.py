"""Versioned schema migrations, each applied in its own transaction.

Money columns are BIGINT pico-dollars (1e-12 USD): exact, and atomic to update in SQL.
"""

from __future__ import annotations

from typing import Any

MIGRATIONS: list[tuple[int, list[str]]] = [
    (1, [
        """CREATE TABLE accounts (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            credits BIGINT NOT NULL DEFAULT 0,
            usage BIGINT NOT NULL DEFAULT 0,
            reserved BIGINT NOT NULL DEFAULT 0,
            charged_total BIGINT NOT NULL DEFAULT 0,
            data_collection TEXT NOT NULL DEFAULT 'allow',
            created_at TEXT NOT NULL)""",
        """CREATE TABLE api_keys (
            hash TEXT PRIMARY KEY,
            account_id TEXT NOT NULL REFERENCES accounts(id),
            kind TEXT NOT NULL,
            name TEXT NOT NULL,
            label TEXT NOT NULL,
            limit_pico BIGINT,
            limit_reset TEXT,
            usage BIGINT NOT NULL DEFAULT 0,
            period_usage BIGINT NOT NULL DEFAULT 0,
            period_start TEXT,
            reserved BIGINT NOT NULL DEFAULT 0,
            disabled BOOLEAN NOT NULL DEFAULT FALSE,
            created_at TEXT NOT NULL,
            updated_at TEXT)""",
        "CREATE INDEX api_keys_account ON api_keys(account_id)",
        """CREATE TABLE holds (
            id TEXT PRIMARY KEY,
            account_id TEXT NOT NULL,
            key_hash TEXT NOT NULL,
            amount BIGINT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL)""",
        """CREATE TABLE credit_grants (
            id TEXT PRIMARY KEY,
            account_id TEXT NOT NULL REFERENCES accounts(id),
            amount BIGINT NOT NULL,
            created_at TEXT NOT NULL)""",
        """CREATE TABLE generations (
            id TEXT PRIMARY KEY,
            account_id TEXT NOT NULL,
            key_hash TEXT NOT NULL,
            model TEXT NOT NULL,
            provider TEXT,
            provider_name TEXT,
            endpoint_id TEXT,
            upstream_id TEXT,
            cost BIGINT NOT NULL DEFAULT 0,
            provider_cost BIGINT NOT NULL DEFAULT 0,
            tokens_prompt INTEGER NOT NULL DEFAULT 0,
            tokens_completion INTEGER NOT NULL DEFAULT 0,
            native_tokens_prompt INTEGER NOT NULL DEFAULT 0,
            native_tokens_completion INTEGER NOT NULL DEFAULT 0,
            native_tokens_reasoning INTEGER NOT NULL DEFAULT 0,
            native_tokens_cached INTEGER NOT NULL DEFAULT 0,
            native_tokens_cache_write INTEGER NOT NULL DEFAULT 0,
            num_media_prompt INTEGER NOT NULL DEFAULT 0,
            streamed BOOLEAN NOT NULL DEFAULT FALSE,
            cancelled BOOLEAN NOT NULL DEFAULT FALSE,
            latency INTEGER,
            generation_time INTEGER,
            finish_reason TEXT,
            native_finish_reason TEXT,
            origin TEXT,
            app_title TEXT,
            status INTEGER NOT NULL DEFAULT 200,
            provider_responses TEXT,
            prompt_content TEXT,
            completion_content TEXT,
            day TEXT NOT NULL,
            created_at TEXT NOT NULL)""",
        "CREATE INDEX generations_account_day ON generations(account_id, day)",
        "CREATE INDEX generations_key_day ON generations(key_hash, day)",
        "CREATE INDEX generations_created ON generations(created_at)",
    ]),
    (2, [
        # the X-Request-Id the request came with (or was given), to join logs and records
        "ALTER TABLE generations ADD COLUMN request_id TEXT",
    ]),
    (3, [
        # hold leases: the owning instance renews them; a dead instance's expire
        "ALTER TABLE holds ADD COLUMN owner TEXT",
        "ALTER TABLE holds ADD COLUMN lease_until DOUBLE PRECISION",
        "CREATE INDEX holds_owner ON holds(owner)",
        # the root key from SWITCHBOARD_ADMIN_KEY lives while an instance renews it
        "ALTER TABLE api_keys ADD COLUMN lease_until DOUBLE PRECISION",
        # the content purge reads only rows that still hold content, however long the history
        "CREATE INDEX generations_with_content ON generations(created_at) "
        "WHERE prompt_content IS NOT NULL OR completion_content IS NOT NULL",
    ]),
    (4, [
        # per-account logging settings; NULL follows the config file's `logging` default
        "ALTER TABLE accounts ADD COLUMN store_content BOOLEAN",
        "ALTER TABLE accounts ADD COLUMN retain_days INTEGER",
        "ALTER TABLE accounts ADD COLUMN settings_updated_at TEXT",
        # /generations lists newest first within a key or an account
        "CREATE INDEX generations_key_created ON generations(key_hash, created_at)",
        "CREATE INDEX generations_account_created ON generations(account_id, created_at)",
    ]),
    (5, [
        # who sent it (User-Agent, OpenRouter-Client) and, for openrouter/auto, the router's
        # pick and why
        "ALTER TABLE generations ADD COLUMN user_agent TEXT",
        "ALTER TABLE generations ADD COLUMN client TEXT",
        "ALTER TABLE generations ADD COLUMN router TEXT",
        "ALTER TABLE generations ADD COLUMN router_reason TEXT",
    ]),
    (6, [
        # presets: stored model(s), provider preferences, system prompt and parameters, used
        # as "model": "@preset/<slug>"; every change is a new version, one designated
        """CREATE TABLE presets (
            id TEXT PRIMARY KEY,
            account_id TEXT NOT NULL,
            slug TEXT NOT NULL,
            name TEXT NOT NULL,
            description TEXT,
            designated_version INTEGER NOT NULL,
            created_by TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (account_id, slug))""",
        """CREATE TABLE preset_versions (
            id TEXT PRIMARY KEY,
            preset_id TEXT NOT NULL REFERENCES presets(id) ON DELETE CASCADE,
            version INTEGER NOT NULL,
            system_prompt TEXT,
            config TEXT NOT NULL,
            created_by TEXT,
            created_at TEXT NOT NULL,
            UNIQUE (preset_id, version))""",
    ]),
]

LATEST = MIGRATIONS[-1][0]


class SchemaTooNew(Exception):
    pass


async def current_version(db: Any) -> int:
    try:
        row = await db.fetchone("SELECT version FROM schema_version")
    except Exception:
        return 0
    return int(row["version"]) if row else 0


async def upgrade(db: Any) -> int:
    """Apply pending migrations; refuse a database written by newer code."""
    async with db.transaction() as tx:
        if db.kind == "postgresql":
            await tx.execute("SELECT pg_advisory_xact_lock(716201)")
        await tx.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    version = await current_version(db)
    if version > LATEST:
        raise SchemaTooNew(
            f"database schema is version {version}, newer than this Switchboard "
            f"(knows up to {LATEST}); upgrade Switchboard instead"
        )
    for target, statements in MIGRATIONS:
        if target <= version:
            continue
        async with db.transaction() as tx:
            if db.kind == "postgresql":
                # several instances may start together: one migrates, the others wait
                await tx.execute("SELECT pg_advisory_xact_lock(716201)")
            row = await tx.fetchone("SELECT version FROM schema_version")
            if row and int(row["version"]) >= target:
                version = int(row["version"])
                continue
            for stmt in statements:
                await tx.execute(stmt)
            await tx.execute("DELETE FROM schema_version")
            await tx.execute("INSERT INTO schema_version (version) VALUES ($1)", target)
        version = target
    return version
