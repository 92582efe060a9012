"""Root keys: the one from SWITCHBOARD_ADMIN_KEY is leased, the others are permanent.

A running instance renews the lease of the root key its environment names, and ends it on
a clean shutdown; a root key whose lease has ended is refused. After the variable changes, no
instance renews the old key any more, so it stops working at the restart (after a crash:
when its lease runs out), while instances that run with different keys side by side all keep
theirs, and one instance stopping does not lock out another that names the same key.
A generated (or rotated) root key lives until it is deleted or rotated away. The last
working root key can never be disabled or deleted.
"""

from __future__ import annotations

import time
from typing import Any

from switchboard.store.repo import DEFAULT_ACCOUNT, Repo, hash_key, new_key

ENV_ROOT_NAME = "root (env)"
_OLD_ENV_ROOT_NAME = "root (SWITCHBOARD_ADMIN_KEY)"  # before leases
ENV_LEASE_S = 30.0  # renewed by housekeeping every 5 s
FORGET_AFTER_S = 24 * 3600.0
_ROOT_LOCK = 716202  # PostgreSQL advisory lock: root-key changes one at a time


async def _serialise(tx: Any, db: Any) -> None:
    if db.kind == "postgresql":
        await tx.execute("SELECT pg_advisory_xact_lock($1)", _ROOT_LOCK)


async def adopt_env_key(repo: Repo, admin_key: str) -> None:
    """Store (hashed) or renew the environment's root key; older environment keys from
    before leases existed get one now, so they too expire unless renewed."""
    now = time.time()
    h = hash_key(admin_key)
    await repo.db.execute(
        "UPDATE api_keys SET lease_until = $1 WHERE kind = 'root' AND name IN ($2, $4) "
        "AND lease_until IS NULL AND hash <> $3", now + ENV_LEASE_S, ENV_ROOT_NAME, h,
        _OLD_ENV_ROOT_NAME)
    if await repo.get_key(h) is None:
        try:
            await repo.create_key(DEFAULT_ACCOUNT, ENV_ROOT_NAME, "root", key=admin_key)
        except Exception:  # another instance stored it first
            if await repo.get_key(h) is None:
                raise
    await renew_env_key(repo.db, h)


async def renew_env_key(db: Any, key_hash: str) -> None:
    await db.execute("UPDATE api_keys SET lease_until = $2 WHERE hash = $1 AND kind = 'root'",
                     key_hash, time.time() + ENV_LEASE_S)


async def release_env_key(db: Any, key_hash: str) -> None:
    """On a clean shutdown: the lease ends now. An instance still running with the same key
    renews it (or stores it again) on its next housekeeping round or request."""
    await db.execute("UPDATE api_keys SET lease_until = $2 WHERE hash = $1 AND kind = 'root' "
                     "AND lease_until IS NOT NULL", key_hash, time.time() - 1)


async def expire_env_keys(db: Any) -> int:
    """Forget environment root keys that no instance has named for a day."""
    return int(await db.execute(
        "DELETE FROM api_keys WHERE kind = 'root' AND lease_until IS NOT NULL "
        "AND lease_until < $1", time.time() - FORGET_AFTER_S))


def lease_ended(lease_until: float | None) -> bool:
    return lease_until is not None and lease_until < time.time()


_WORKING = ("kind = 'root' AND NOT disabled AND hash <> $1 "
            "AND (lease_until IS NULL OR lease_until >= $2)")


async def retire(db: Any, key_hash: str, delete: bool) -> bool:
    """Disable or delete one root key unless no other working root key would remain."""

    async def body(tx: Any) -> bool:
        await _serialise(tx, db)
        other = await tx.fetchone(f"SELECT hash FROM api_keys WHERE {_WORKING} LIMIT 1",
                                  key_hash, time.time())
        if other is None:
            return False
        if delete:
            await tx.execute("DELETE FROM api_keys WHERE hash = $1", key_hash)
        else:
            await tx.execute("UPDATE api_keys SET disabled = TRUE WHERE hash = $1", key_hash)
        return True

    return bool(await db.run_transaction(body))


async def rotate(repo: Repo) -> tuple[str, int]:
    """A new root key, and every other permanent root key deleted: (the key, how many went).
    A leased environment key is left to its environment."""
    key = new_key()
    h = hash_key(key)
    await repo.create_key(DEFAULT_ACCOUNT, "root", "root", key=key)

    async def body(tx: Any) -> int:
        await _serialise(tx, repo.db)
        return int(await tx.execute(
            "DELETE FROM api_keys WHERE kind = 'root' AND hash <> $1 AND lease_until IS NULL",
            h))

    return key, int(await repo.db.run_transaction(body))
