"""Per key and model rate limits over sliding windows; in-process or shared through Redis.

A sliding-log window has no burst at a window's edge: a request is admitted when fewer
than `limit` requests of this key and model started in the last `window` seconds.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from switchboard.errors import GatewayError

if TYPE_CHECKING:
    from switchboard.routing.planner import Plan
    from switchboard.store.repo import KeyRecord


@dataclass(frozen=True, slots=True)
class Rule:
    name: str  # "rpm" | "rpd"
    limit: int
    window_s: float


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    rule: Rule
    remaining: int
    reset_s: float  # seconds until a slot frees


class WindowStore(Protocol):
    async def admit(self, bucket: str, rule: Rule, now: float) -> Verdict: ...


class MemoryWindows:
    """In-process sliding windows. Buckets whose window has passed are forgotten in sweeps,
    so memory follows the keys × models active within the longest window, not all ever seen."""

    SWEEP_EVERY = 10_000  # admissions between sweeps

    def __init__(self) -> None:
        self._logs: dict[str, deque[float]] = {}
        self._windows: dict[str, float] = {}  # bucket -> its rule's window
        self._admits = 0

    def __len__(self) -> int:
        return len(self._logs)

    def _sweep(self, now: float) -> None:
        for bucket in [b for b, log in self._logs.items()
                       if not log or log[-1] <= now - self._windows.get(b, 0)]:
            del self._logs[bucket]
            self._windows.pop(bucket, None)

    async def admit(self, bucket: str, rule: Rule, now: float) -> Verdict:
        self._admits += 1
        if self._admits % self.SWEEP_EVERY == 0:
            self._sweep(now)
        log = self._logs.get(bucket)
        if log is None:
            log = self._logs[bucket] = deque()
            self._windows[bucket] = rule.window_s
        edge = now - rule.window_s
        while log and log[0] <= edge:
            log.popleft()
        if len(log) >= rule.limit:
            return Verdict(False, rule, 0, log[0] + rule.window_s - now)
        log.append(now)
        return Verdict(True, rule, rule.limit - len(log), (log[0] + rule.window_s - now))


_REDIS_ADMIT = """
local key, now, window, limit, member = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]),
    tonumber(ARGV[3]), ARGV[4]
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local n = redis.call('ZCARD', key)
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
if n >= limit then
  return {0, n, oldest[2] or tostring(now)}
end
redis.call('ZADD', key, now, member)
redis.call('PEXPIRE', key, math.ceil(window * 1000))
if oldest[2] == nil then oldest = {member, tostring(now)} end
return {1, n + 1, oldest[2]}
"""


class RedisWindows:
    """The same sliding log in a Redis sorted set, admitted atomically by a Lua script."""

    def __init__(self, client: Any, prefix: str = "sb:rl:") -> None:
        self.client = client
        self.prefix = prefix
        self._script = client.register_script(_REDIS_ADMIT)
        self._seq = 0

    async def admit(self, bucket: str, rule: Rule, now: float) -> Verdict:
        self._seq += 1
        member = f"{now:.6f}:{id(self)}:{self._seq}"
        ok, count, oldest = await self._script(
            keys=[self.prefix + bucket], args=[now, rule.window_s, rule.limit, member])
        oldest_f = float(oldest)
        reset = max(0.0, oldest_f + rule.window_s - now)
        return Verdict(bool(ok), rule, max(0, rule.limit - int(count)), reset)


FREE_RPM = 20
FREE_RPD = 200
FREE_RPD_PAID = 1000
PAID_THRESHOLD_PICO = 10 * 10**12  # $10 of credits bought lifts the free daily limit


class Limiter:
    def __init__(self, windows: WindowStore, charged_total: Callable[[str], int],
                 clock: Callable[[], float] = time.time) -> None:
        self.windows = windows
        self.charged_total = charged_total  # account id -> credits bought, pico-USD
        self.clock = clock

    def rules(self, key: KeyRecord, plan: Plan) -> list[Rule]:
        model = plan.attempts[0].model
        if model.id.endswith(":free"):
            rpd = FREE_RPD_PAID if self.charged_total(key.account_id) >= PAID_THRESHOLD_PICO \
                else FREE_RPD
            return [Rule("rpm", FREE_RPM, 60.0), Rule("rpd", rpd, 86400.0)]
        rpm = plan.attempts[0].provider.rate_limit_rpm
        return [Rule("rpm", rpm, 60.0)] if rpm else []

    async def check(self, key: KeyRecord, plan: Plan) -> None:
        rules = self.rules(key, plan)
        if not rules:
            return
        now = self.clock()
        model_id = plan.attempts[0].model.id
        for rule in rules:
            verdict = await self.windows.admit(f"{key.hash}:{model_id}:{rule.name}", rule, now)
            if not verdict.allowed:
                wait = max(1, math.ceil(verdict.reset_s))
                raise GatewayError(
                    429, f"Rate limit exceeded: {rule.limit} requests per "
                    f"{'minute' if rule.name == 'rpm' else 'day'} for {model_id} on this key; "
                    f"retry in {wait} s", "rate_limit_exceeded",
                    {"limit": rule.limit, "window": rule.name},
                    {"Retry-After": str(wait), "X-RateLimit-Limit": str(rule.limit),
                     "X-RateLimit-Remaining": "0",
                     "X-RateLimit-Reset": str(int((now + verdict.reset_s) * 1000))})
