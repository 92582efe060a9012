"""HealthStore shared by every gateway instance through Redis (SWITCHBOARD_REDIS_URL).

Built for the request path: `record_*` queue their write and return at once
(health is advisory, a lost record costs nothing); one writer task sends the
queue in order, batched into pipelines — order matters, a success must not
overtake the failures before it. `snapshot()` reads a local copy that a
background task refreshes from Redis about once a second.
Only `allow_probe` on a circuit that is not closed waits for Redis, because a
single probe across all instances needs one atomic decision.

Layout, per endpoint key K (the `{K}` hash tag keeps one endpoint's keys in one
cluster slot, so the Lua scripts stay legal on Redis Cluster):
    {prefix}:{K}           hash: cf (consecutive failures), state, open_until, cooldown
    {prefix}:{K}:w:<n>     hash: ok, fail — attempts in window bucket n, expiring after the window
    {prefix}:{K}:s         list of "<bucket>|<ttft_ms>|<tps>", newest first, capped
    {prefix}:keys          set of endpoint keys, so a refresh knows what to read
Times are wall-clock seconds (time.time), the only clock instances share.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript

from switchboard.routing.health import (
    BUCKETS,
    MAX_SAMPLES,
    WINDOW_S,
    CircuitState,
    Clock,
    EndpointHealth,
    HealthSnapshot,
    summarize,
)

log = logging.getLogger(__name__)

STATE_TTL_S = 86_400  # forget an endpoint's circuit after a day without traffic
MAX_PENDING_WRITES = 1_000  # with Redis slow or down, drop records rather than pile them up
MAX_BATCH = 200  # records per pipeline

_FAILURE = """
local cf = redis.call('HINCRBY', KEYS[1], 'cf', 1)
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
local threshold = tonumber(ARGV[1])
if state == 'half_open' or (state == 'closed' and threshold > 0 and cf >= threshold) then
  redis.call('HSET', KEYS[1], 'state', 'open', 'open_until', ARGV[2])
end
redis.call('HSET', KEYS[1], 'cooldown', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('HINCRBY', KEYS[2], 'fail', 1)
redis.call('EXPIRE', KEYS[2], ARGV[4])
return cf
"""

_SUCCESS = """
redis.call('HSET', KEYS[1], 'cf', 0, 'state', 'closed')
redis.call('HDEL', KEYS[1], 'open_until')
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('HINCRBY', KEYS[2], 'ok', 1)
redis.call('EXPIRE', KEYS[2], ARGV[1])
if ARGV[3] ~= '' then
  redis.call('LPUSH', KEYS[3], ARGV[3])
  redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[4]) - 1)
  redis.call('EXPIRE', KEYS[3], ARGV[1])
end
return 1
"""

# Grants the one probe: open (or a half_open whose probe lease ran out) past open_until
# becomes half_open with a fresh lease. Closed or unknown endpoints always pass.
_PROBE = """
local h = redis.call('HMGET', KEYS[1], 'state', 'open_until', 'cooldown')
if not h[1] or h[1] == 'closed' then return 1 end
local now = tonumber(ARGV[1])
if h[2] and now < tonumber(h[2]) then return 0 end
local lease = tonumber(h[3] or ARGV[2])
redis.call('HSET', KEYS[1], 'state', 'half_open', 'open_until', tostring(now + lease))
return 1
"""


_STATES: dict[str, CircuitState] = {"open": "open", "half_open": "half_open"}

# (endpoint key, script, KEYS, ARGV)
_Write = tuple[str, AsyncScript, list[str], list[Any]]


def _str(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisHealthTracker:
    observer: Any = None  # told of circuit changes and Redis loss/recovery (the app sets it)

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str = "sb:health",
        clock: Clock = time.time,
        window_s: float = WINDOW_S,
        refresh_s: float = 1.0,
        default_cooldown_s: float = 30.0,
    ) -> None:
        self._redis = client  # owned by the app's lifespan, not closed here
        self._prefix = prefix
        self._clock = clock
        self._bucket_s = window_s / BUCKETS
        self._bucket_ttl = math.ceil(window_s + self._bucket_s)
        self._refresh_s = refresh_s
        self._default_cooldown_s = default_cooldown_s
        self._failure = client.register_script(_FAILURE)
        self._success = client.register_script(_SUCCESS)
        self._probe = client.register_script(_PROBE)
        self._view: Mapping[str, EndpointHealth] = MappingProxyType({})
        self._writes: asyncio.Queue[_Write] = asyncio.Queue(MAX_PENDING_WRITES)
        self._writer: asyncio.Task[None] | None = None
        self._registered: set[str] = set()  # endpoint keys this instance has added to {prefix}:keys
        self._refresher: asyncio.Task[None] | None = None

    # -- keys --

    def _state_key(self, key: str) -> str:
        return f"{self._prefix}:{{{key}}}"

    def _bucket_key(self, key: str, bucket: int) -> str:
        return f"{self._prefix}:{{{key}}}:w:{bucket}"

    def _samples_key(self, key: str) -> str:
        return f"{self._prefix}:{{{key}}}:s"

    def _bucket(self, now: float) -> int:
        return math.floor(now / self._bucket_s)

    # -- HealthStore --

    async def record_success(
        self, key: str, ttft_ms: float | None = None, tps: float | None = None
    ) -> None:
        bucket = self._bucket(self._clock())
        sample = ""
        if ttft_ms is not None or tps is not None:
            sample = f"{bucket}|{'' if ttft_ms is None else ttft_ms}|{'' if tps is None else tps}"
        keys = [self._state_key(key), self._bucket_key(key, bucket), self._samples_key(key)]
        args = [self._bucket_ttl, STATE_TTL_S, sample, MAX_SAMPLES]
        self._enqueue((key, self._success, keys, args))

    async def record_failure(self, key: str, failures_to_open: int, cooldown_s: float) -> None:
        now = self._clock()
        keys = [self._state_key(key), self._bucket_key(key, self._bucket(now))]
        opened_until = repr(now + cooldown_s)
        args = [failures_to_open, opened_until, repr(cooldown_s), self._bucket_ttl, STATE_TTL_S]
        self._enqueue((key, self._failure, keys, args))

    async def allow_probe(self, key: str) -> bool:
        local = self.snapshot()
        if local.get(key).state == "closed":
            return True  # the common case costs no round trip; the cache is ~1 s stale at most
        try:
            granted = await self._probe(
                keys=[self._state_key(key)],
                args=[repr(self._clock()), repr(self._default_cooldown_s)],
            )
        except Exception as exc:  # Redis unreachable: decide from the local copy
            log.warning("health: probe check for %s failed: %s", key, exc)
            return local.circuit(key) != "blocked"
        return bool(int(granted))

    def snapshot(self) -> HealthSnapshot:
        return HealthSnapshot(self._view, self._clock())

    # -- background refresh and write-behind --

    async def start(self) -> None:
        """Load the shared state once, then keep refreshing it in the background."""
        try:
            await self.refresh()
        except Exception as exc:  # start anyway: health is advisory, the loop will retry
            log.warning("health: first read from Redis failed: %s", exc)
        self._refresher = asyncio.create_task(self._refresh_loop(), name="health-refresh")

    async def stop(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
            self._refresher = None
        await self.flush(timeout_s=1.0)
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None

    async def flush(self, timeout_s: float | None = None) -> None:
        """Wait until queued writes have been sent (tests; shutdown)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._writes.join(), timeout_s)

    async def refresh(self) -> None:
        """Read every endpoint's state from Redis into the local copy."""
        now = self._clock()
        current = self._bucket(now)
        buckets = range(current - BUCKETS + 1, current + 1)
        keys = sorted(_str(k) for k in await self._redis.smembers(f"{self._prefix}:keys"))
        pipe = self._redis.pipeline(transaction=False)
        for key in keys:
            pipe.hgetall(self._state_key(key))
            pipe.lrange(self._samples_key(key), 0, -1)
            for b in buckets:
                pipe.hmget(self._bucket_key(key, b), "ok", "fail")
        replies = await pipe.execute()
        per_key = 2 + len(buckets)
        view: dict[str, EndpointHealth] = {}
        for i, key in enumerate(keys):
            state, samples, *counts = replies[i * per_key : (i + 1) * per_key]
            view[key] = self._summarize(state, samples, counts, buckets.start)
        if self.observer is not None:
            for key, new in view.items():
                old = self._view[key].state if key in self._view else "closed"
                if old != new.state:
                    self.observer.circuit_changed(key, old, new.state)
        self._view = MappingProxyType(view)

    def _summarize(
        self, state: dict[Any, Any], samples: list[Any], counts: list[list[Any]], first: int
    ) -> EndpointHealth:
        fields = {_str(k): _str(v) for k, v in state.items()}
        recent: list[tuple[float | None, float | None]] = []
        for raw in samples:
            bucket, ttft, tps = _str(raw).split("|")
            if int(bucket) >= first:
                recent.append((float(ttft) if ttft else None, float(tps) if tps else None))
        circuit = _STATES.get(fields.get("state", ""), "closed")
        open_until = fields.get("open_until")
        return summarize(
            ok=sum(int(c[0] or 0) for c in counts),
            failed=sum(int(c[1] or 0) for c in counts),
            samples=recent,
            consecutive_failures=int(fields.get("cf", 0)),
            state=circuit,
            open_until=float(open_until) if open_until and circuit != "closed" else None,
        )

    async def _refresh_loop(self) -> None:
        lost = False
        while True:
            await asyncio.sleep(self._refresh_s)
            try:
                await self.refresh()
            except Exception as exc:  # keep serving the last good copy
                if not lost and self.observer is not None:  # one line per loss, not per second
                    self.observer.background_failure("redis health refresh", exc, "redis")
                elif self.observer is None:
                    log.warning("health: refresh from Redis failed: %s", exc)
                lost = True
                continue
            if lost and self.observer is not None:
                self.observer.recovered("redis health refresh")
            lost = False

    def _enqueue(self, write: _Write) -> None:
        try:
            self._writes.put_nowait(write)
        except asyncio.QueueFull:
            return  # Redis is not keeping up; health is advisory
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_loop(), name="health-writer")

    async def _write_loop(self) -> None:
        while True:
            batch = [await self._writes.get()]
            while len(batch) < MAX_BATCH and not self._writes.empty():
                batch.append(self._writes.get_nowait())
            try:
                await self._send(batch)
            except Exception as exc:
                log.warning("health: writing %d records to Redis failed: %s", len(batch), exc)
                if self.observer is not None:
                    self.observer.dependency_error("redis")
            finally:
                for _ in batch:
                    self._writes.task_done()

    async def _send(self, batch: list[_Write]) -> None:
        pipe = self._redis.pipeline(transaction=False)  # one connection: writes land in order
        new = {key for key, *_ in batch} - self._registered
        for _key, script, keys, args in batch:
            await script(keys=keys, args=args, client=pipe)
        if new:  # once per key, not once per record
            pipe.sadd(f"{self._prefix}:keys", *new)
        await pipe.execute()
        self._registered |= new
