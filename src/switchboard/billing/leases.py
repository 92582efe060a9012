"""Hold leases: a live request's hold is renewed by the instance that owns it, so only the
holds of an instance that stopped renewing (crashed, `kill -9`) expire and are released.

A released hold is not deleted: its amount drops to 0 and the row stays until it is old, so
a settlement that still arrives (a stream that outlived a stalled renewal) is charged.
"""

from __future__ import annotations

import time
from typing import Any

LEASE_S = 30.0  # a hold not renewed for this long belongs to a dead instance
RENEW_EVERY_S = 10.0  # renewal and sweep period: an orphan is released within 40 s
MAX_AGE_S = 24 * 3600.0  # even a renewed hold is released after a day (a leak's bound)
KEEP_RELEASED_S = 7 * 24 * 3600.0  # a released hold's row answers a late settlement this long
LEGACY_TTL_S = 3600.0  # holds written before leases existed


async def renew(db: Any, owner: str, lease_s: float = LEASE_S) -> int:
    """Extend the lease of every unreleased hold this instance owns."""
    return int(await db.execute(
        "UPDATE holds SET lease_until = $2 WHERE owner = $1 AND amount > 0",
        owner, time.time() + lease_s))


async def release_expired(db: Any, max_age_s: float = MAX_AGE_S) -> int:
    """Give back the reservations of holds whose lease ran out; returns how many."""
    now = time.time()
    rows = await db.fetchall(
        "SELECT id, account_id, key_hash, amount FROM holds WHERE amount > 0 AND "
        "(COALESCE(lease_until, created_at + $3) < $1 OR created_at < $2)",
        now, now - max_age_s, LEGACY_TTL_S)
    released = 0
    for r in rows:
        released += await db.run_transaction(lambda tx, r=r: _release(tx, r))
    await db.execute("DELETE FROM holds WHERE amount = 0 AND created_at < $1",
                     now - KEEP_RELEASED_S)
    return released


async def _release(tx: Any, row: dict[str, Any]) -> int:
    # compare-and-set: a settlement or another instance's sweep may have got there first
    n = await tx.execute("UPDATE holds SET amount = 0 WHERE id = $1 AND amount = $2",
                         row["id"], row["amount"])
    if n != 1:
        return 0
    await tx.execute("UPDATE accounts SET reserved = reserved - $2 WHERE id = $1",
                     row["account_id"], row["amount"])
    await tx.execute("UPDATE api_keys SET reserved = reserved - $2 WHERE hash = $1",
                     row["key_hash"], row["amount"])
    return 1
