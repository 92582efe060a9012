"""Reserve-then-settle spending.

`hold` runs on the request path: one transaction that reserves the worst-case cost
against the account balance and the key's limit, or refuses. `settle` runs off the
path: settlements queue up and a writer commits them in batches, each exactly once
(the hold row is the idempotency token: settling deletes it, a second settle finds
nothing). A clean shutdown drains the queue; `kill -9` loses only what was queued
(at most one flush interval of finished requests) plus requests in flight; their
holds stop being renewed and are released once their lease runs out (billing/leases.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from switchboard.billing import leases
from switchboard.billing.bounds import MAX_REQUEST_PICO, bounded_generation
from switchboard.billing.pricing import usd_str
from switchboard.errors import GatewayError
from switchboard.store.repo import KeyRecord, generation_row, period_start

log = logging.getLogger("switchboard.ledger")

_GEN_COLUMNS = (
    "id",
    "account_id",
    "key_hash",
    "model",
    "provider",
    "provider_name",
    "endpoint_id",
    "upstream_id",
    "cost",
    "provider_cost",
    "tokens_prompt",
    "tokens_completion",
    "native_tokens_prompt",
    "native_tokens_completion",
    "native_tokens_reasoning",
    "native_tokens_cached",
    "native_tokens_cache_write",
    "num_media_prompt",
    "streamed",
    "cancelled",
    "latency",
    "generation_time",
    "finish_reason",
    "native_finish_reason",
    "origin",
    "app_title",
    "status",
    "provider_responses",
    "prompt_content",
    "completion_content",
    "day",
    "created_at",
    "request_id",
    "user_agent",
    "client",
    "router",
    "router_reason",
)
_INSERT_GEN = (
    f"INSERT INTO generations ({', '.join(_GEN_COLUMNS)}) VALUES "
    f"({', '.join(f'${i + 1}' for i in range(len(_GEN_COLUMNS)))}) ON CONFLICT DO NOTHING"
)


@dataclass(slots=True)
class Settlement:
    gen_id: str
    key: KeyRecord
    cost_pico: int
    generation: dict[str, Any] | None  # None: nothing was served, release only
    queued_at: float = field(default_factory=time.monotonic)  # for the settlement-lag metric


_PendingHold = tuple[str, KeyRecord, int, "asyncio.Future[GatewayError | None]"]


class Ledger:
    observer: Any = None  # settlement lag, queue depth, writer failures (the app sets it)

    def __init__(
        self,
        db: Any,
        flush_interval_s: float = 0.02,
        max_batch: int = 500,
        lease_s: float = leases.LEASE_S,
        renew_every_s: float = leases.RENEW_EVERY_S,
    ) -> None:
        self.db = db
        self.flush_interval_s = flush_interval_s
        self.max_batch = max_batch
        self.lease_s = lease_s
        self.renew_every_s = renew_every_s
        self.owner = "inst_" + secrets.token_hex(8)  # this process's holds, for their leases
        self._pending: list[Settlement] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._flush_lock = asyncio.Lock()
        self._hold_queue: list[_PendingHold] = []
        self._hold_scheduled = False
        self._hold_tasks: set[asyncio.Task[None]] = set()

    # -- the request path ------------------------------------------------------------

    async def hold(self, gen_id: str, key: KeyRecord, amount_pico: int) -> None:
        """Reserve `amount_pico` or raise 402; atomic against concurrent requests.

        Holds asked for in the same event-loop turn share one transaction (group
        commit): each is still its own conditional update, so none can overspend.
        """
        if not 0 <= amount_pico <= MAX_REQUEST_PICO:
            # no account can cover it, and the sum would not fit a 64-bit column
            raise GatewayError(
                402, "This request's worst-case cost is beyond the per-request maximum "
                "($10,000): lower max_tokens", "payment_required",
                {"required": amount_pico / 1e12})
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[GatewayError | None] = loop.create_future()
        self._hold_queue.append((gen_id, key, amount_pico, fut))
        if not self._hold_scheduled:
            self._hold_scheduled = True
            loop.call_soon(self._spawn_hold_flush)
        err = await fut
        if err is not None:
            raise err

    def _spawn_hold_flush(self) -> None:
        self._hold_scheduled = False
        batch, self._hold_queue = self._hold_queue, []
        task = asyncio.ensure_future(self._flush_holds(batch))
        self._hold_tasks.add(task)
        task.add_done_callback(self._hold_tasks.discard)

    async def _flush_holds(self, batch: list[_PendingHold]) -> None:
        results: list[GatewayError | None] = [None] * len(batch)
        # Rows are locked in one global order (account, then key) by every batch, hold or
        # settle, on every instance: concurrent transactions can wait, never deadlock.
        order = sorted(range(len(batch)), key=lambda i: (batch[i][1].account_id,
                                                         batch[i][1].hash))

        async def body(tx: Any) -> None:
            for i in order:
                gen_id, key, amount, _ = batch[i]
                results[i] = await self._hold_one(tx, gen_id, key, amount)

        try:
            await self.db.run_transaction(body)
        except Exception as exc:
            for *_, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)
            return
        for (gen_id, key, _, fut), err in zip(batch, results, strict=True):
            if fut.done():  # the request was cancelled while waiting: give the hold back
                if err is None:
                    self.settle(Settlement(gen_id, key, 0, None))
            else:
                fut.set_result(err)

    async def _hold_one(
        self, tx: Any, gen_id: str, key: KeyRecord, amount_pico: int
    ) -> GatewayError | None:
        ok = await tx.execute(
            "UPDATE accounts SET reserved = reserved + $2 "
            "WHERE id = $1 AND credits - usage - reserved >= $2", key.account_id, amount_pico)
        if ok != 1:
            return GatewayError(
                402, "Insufficient credits for this request: add credits or lower max_tokens",
                "payment_required", {"required": amount_pico / 1e12})
        if key.limit_pico is not None:
            ok = await tx.execute(
                "UPDATE api_keys SET reserved = reserved + $2 WHERE hash = $1 AND "
                "limit_pico - (CASE WHEN period_start = $3 THEN period_usage ELSE 0 END) "
                "- reserved >= $2", key.hash, amount_pico, period_start(key.limit_reset))
            if ok != 1:
                await tx.execute("UPDATE accounts SET reserved = reserved - $2 WHERE id = $1",
                                 key.account_id, amount_pico)
                return await _key_limit_error(tx, key, amount_pico)
        else:
            await tx.execute("UPDATE api_keys SET reserved = reserved + $2 WHERE hash = $1",
                             key.hash, amount_pico)
        now = time.time()
        await tx.execute(
            "INSERT INTO holds (id, account_id, key_hash, amount, created_at, owner, "
            "lease_until) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            gen_id, key.account_id, key.hash, amount_pico, now, self.owner, now + self.lease_s)
        return None

    @property
    def queue_depth(self) -> int:
        return len(self._pending)

    def settle(self, settlement: Settlement) -> None:
        """Queue a settlement; the response never waits for it."""
        self._pending.append(settlement)
        if len(self._pending) >= self.max_batch:
            self._wake.set()

    # -- the writer ------------------------------------------------------------------

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()

    async def _run(self) -> None:
        last_lease = time.monotonic()
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.flush_interval_s):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.flush()
                if time.monotonic() - last_lease >= self.renew_every_s:
                    last_lease = time.monotonic()
                    await leases.renew(self.db, self.owner, self.lease_s)
                    await self.release_stale()
            except Exception as exc:
                if self.observer is not None:
                    self.observer.background_failure("ledger flush", exc, "database",
                                                     "will retry")
                else:
                    log.exception("ledger flush failed; will retry")
                await asyncio.sleep(0.5)

    async def flush(self) -> None:
        """Commit everything queued. A record the database refuses is isolated: the others
        of its batch are written, and it is settled without its stats or, failing that,
        dropped (logged) so that it can never stop the ledger; its hold then expires."""
        async with self._flush_lock:
            while self._pending:
                batch = self._pending[: self.max_batch]
                try:
                    await self._commit(batch)
                except Exception:
                    if not await self._reachable():
                        raise  # the database is away: keep the queue, the writer retries
                    log.exception("batch settlement failed; settling one by one")
                    for s in batch:
                        await self._commit_alone(s)
                del self._pending[: len(batch)]
                if self.observer is not None:
                    self.observer.settlements_committed([s.queued_at for s in batch],
                                                        len(self._pending))

    async def _commit_alone(self, s: Settlement) -> None:
        try:
            await self._commit([s])
            return
        except Exception:
            log.exception("generation %s not recorded; settling money only", s.gen_id)
        try:
            await self._commit([Settlement(s.gen_id, s.key, s.cost_pico, None)])
        except Exception:
            log.exception("settlement %s refused by the database; dropped, its hold will "
                          "expire", s.gen_id)

    async def _reachable(self) -> bool:
        try:
            await self.db.fetchone("SELECT 1 AS ok")
        except Exception:
            return False
        return True

    async def _commit(self, batch: list[Settlement]) -> None:
        await self.db.run_transaction(lambda tx: self._commit_in(tx, batch))

    async def _commit_in(self, tx: Any, batch: list[Settlement]) -> None:
        """One transaction per batch; balance updates summed per account and per key.
        A hold its lease already released has amount 0: the charge still applies."""
        accounts: dict[str, list[int]] = {}
        keys: dict[str, tuple[KeyRecord, list[int]]] = {}
        generations: list[tuple[Any, ...]] = []
        for s in batch:
            row = await tx.fetchone(
                "DELETE FROM holds WHERE id = $1 RETURNING amount", s.gen_id)
            if row is None:
                continue  # already settled or released: charge exactly once
            held = int(row["amount"])
            cost = _bounded_cost(s, held)
            acc = accounts.setdefault(s.key.account_id, [0, 0])
            acc[0] += held
            acc[1] += cost
            _, k = keys.setdefault(s.key.hash, (s.key, [0, 0]))
            k[0] += held
            k[1] += cost
            if s.generation is not None:
                fields = dict(s.generation)
                if "cost" in fields:
                    fields["cost"] = cost
                gen = generation_row(**bounded_generation(s.gen_id, fields))
                generations.append(tuple(gen.get(c) for c in _GEN_COLUMNS))
        # the same lock order as holds: all accounts sorted, then all keys sorted
        for account_id, (held, cost) in sorted(accounts.items()):
            await tx.execute(
                "UPDATE accounts SET reserved = reserved - $2, usage = usage + $3 "
                "WHERE id = $1", account_id, held, cost)
        for key_hash, (key, (held, cost)) in sorted(keys.items(), key=lambda kv: kv[0]):
            await tx.execute(
                "UPDATE api_keys SET reserved = reserved - $2, usage = usage + $3, "
                "period_usage = (CASE WHEN period_start = $4 THEN period_usage ELSE 0 END)"
                " + $3, period_start = $4 WHERE hash = $1",
                key_hash, held, cost, period_start(key.limit_reset))
        if generations:
            await tx.executemany(_INSERT_GEN, generations)

    async def release_stale(self) -> int:
        """Release holds whose lease ran out: requests that died with their instance."""
        return await leases.release_expired(self.db)

def _bounded_cost(s: Settlement, held: int) -> int:
    """The charge, kept within [0, the per-request maximum]: a cost beyond it is an upstream's
    absurd report (an anomaly, logged), charged as the worst case the request was admitted for."""
    try:
        cost = int(s.cost_pico)
    except (TypeError, ValueError, OverflowError):
        cost = -1
    if 0 <= cost <= MAX_REQUEST_PICO:
        return cost
    charged = min(max(held, 0), MAX_REQUEST_PICO) if cost > 0 else 0
    log.warning("settlement %s: cost %r pico-USD is out of range, charged %d (anomaly)",
                s.gen_id, s.cost_pico, charged)
    return charged


async def _key_limit_error(tx: Any, key: KeyRecord, amount_pico: int) -> GatewayError:
    """Say what the request needed (its worst-case hold) and how to need less, as the
    account-level 402 does: a key with no usage can still be short of one request's hold."""
    row = await tx.fetchone(
        "SELECT limit_pico - (CASE WHEN period_start = $2 THEN period_usage ELSE 0 END) "
        "- reserved AS remaining FROM api_keys WHERE hash = $1",
        key.hash, period_start(key.limit_reset))
    remaining = max(0, int(row["remaining"])) if row and row["remaining"] is not None else 0
    return GatewayError(
        402,
        f"This key's spending limit cannot cover this request: it may cost up to "
        f"${usd_str(amount_pico)} (the prompt plus max_tokens of output, held until it "
        f"settles) and the key has ${usd_str(remaining)} of its "
        f"${usd_str(key.limit_pico or 0)} limit left for the current period; lower "
        "max_tokens or raise the key's limit",
        "key_limit_exceeded",
        {"required": amount_pico / 1e12, "limit_remaining": remaining / 1e12})
