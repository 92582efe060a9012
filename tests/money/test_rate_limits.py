"""Rate limits per key and model over sliding windows; shared through Redis."""

from __future__ import annotations

import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis

from switchboard.errors import GatewayError
from switchboard.limits.limiter import Limiter, MemoryWindows, RedisWindows
from switchboard.store.repo import KeyRecord
from tests.money.conftest import Backend, Start
from tests.money.util import auth, burst, chat, money_config, user
from tests.redis_guard import claim, claim_async
from tests.support import GatewayServer, MockUpstream, Reply, openai_completion

REDIS_URL = "redis://127.0.0.1:6379/14"
FREE = {"model": "test/free:free", "messages": user("hi")}


def quick(upstream: MockUpstream) -> None:
    upstream.default = lambda path, body: Reply(json=openai_completion("ok", 5, 2))


def assert_429(r: Any, limit: int) -> None:
    assert r.status_code == 429, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["error"]["code"] == 429
    retry = int(r.headers["Retry-After"])
    assert 1 <= retry <= 60
    assert r.headers["X-RateLimit-Limit"] == str(limit)
    assert r.headers["X-RateLimit-Remaining"] == "0"
    reset_ms = int(r.headers["X-RateLimit-Reset"])
    assert time.time() * 1000 < reset_ms <= (time.time() + 61) * 1000


@pytest.fixture()
def redis_db() -> Iterator[str]:
    client = redis.Redis.from_url(REDIS_URL)
    claim(client, REDIS_URL)
    yield REDIS_URL
    client.flushdb()
    client.close()


def test_free_model_20_per_minute_then_429(
    start: Start, upstream: MockUpstream, backend: Backend
) -> None:
    gw = start(money_config(upstream.url))
    quick(upstream)
    gw.charge(1)
    key = gw.new_key("free-user")
    for i in range(20):
        r = chat(gw, key, FREE)
        assert r.status_code == 200, (i, r.text)
    assert_429(chat(gw, key, FREE), 20)
    # per key and model: another key, or another model, is not limited by this one
    assert chat(gw, gw.new_key("other"), FREE).status_code == 200
    assert chat(gw, key, {"model": "test/priced", "messages": user("x")}).status_code == 200
    gw.http.get("/credits", headers=auth(key))
    assert backend.one("SELECT reserved FROM accounts WHERE id = 'default'")["reserved"] == 0
    assert len(backend.sql("SELECT id FROM generations")) == 22  # the 429 left no record


def test_free_limit_holds_under_concurrency(
    start: Start, upstream: MockUpstream, backend: Backend
) -> None:
    gw = start(money_config(upstream.url))
    quick(upstream)
    key = gw.new_key("burst")  # on a $0 balance: free models run anyway
    results = burst([(gw, key)], 40, lambda i: FREE)
    statuses = [r[0] for r in results]
    assert statuses.count(200) == 20 and statuses.count(429) == 20


def test_provider_rate_limit_for_paid_models(start: Start, upstream: MockUpstream) -> None:
    gw = start(money_config(upstream.url))
    quick(upstream)
    gw.charge(1)
    key = gw.new_key("metered")
    body = {"model": "test/metered", "messages": user("x")}
    for _ in range(3):
        assert chat(gw, key, body).status_code == 200
    assert_429(chat(gw, key, body), 3)
    assert len(upstream.hits("/metered/")) == 3


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_two_instances_share_limits_through_redis(
    start: Start, upstream: MockUpstream, redis_db: str
) -> None:
    env = {"SWITCHBOARD_REDIS_URL": redis_db}
    a: GatewayServer = start(money_config(upstream.url), env=env)
    b: GatewayServer = start(money_config(upstream.url), env=env)
    quick(upstream)
    key = a.new_key("everywhere")
    for i in range(20):
        gw = (a, b)[i % 2]
        assert chat(gw, key, FREE).status_code == 200, i
    assert_429(chat(a, key, FREE), 20)
    assert_429(chat(b, key, FREE), 20)
    # and atomically, when both are hit at once
    key2 = b.new_key("everywhere-2")
    results = burst([(a, key2), (b, key2)], 40, lambda i: FREE)
    statuses = [r[0] for r in results]
    assert statuses.count(200) == 20 and statuses.count(429) == 20
    # a key disabled on one instance is refused by the other (cache invalidated via Redis)
    key3 = a.new_key("soon-disabled")
    assert chat(b, key3, FREE).status_code == 200  # now cached on b
    h = a.admin("GET", "/keys").json()["data"]
    h3 = next(k["hash"] for k in h if k["name"] == "soon-disabled")
    assert a.admin("PATCH", f"/keys/{h3}", json={"disabled": True}).status_code == 200
    deadline = time.time() + 1.0  # well inside the 2 s cache lifetime
    while time.time() < deadline and chat(b, key3, FREE).status_code != 401:
        time.sleep(0.05)
    assert chat(b, key3, FREE).status_code == 401


# -- the limiter itself, on a clock we control ----------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


def plan(model_id: str, rpm: int | None = None) -> Any:
    attempt = SimpleNamespace(model=SimpleNamespace(id=model_id),
                              provider=SimpleNamespace(rate_limit_rpm=rpm))
    return SimpleNamespace(attempts=[attempt])


def key_record(h: str = "k" * 64) -> KeyRecord:
    return KeyRecord(h, "acct", "inference", "n", "l", None, None, False)


async def _windows(kind: str) -> tuple[Any, Any]:
    if kind == "memory":
        return MemoryWindows(), None
    client = aioredis.from_url(REDIS_URL)
    await claim_async(client, REDIS_URL)
    return RedisWindows(client), client


@pytest.mark.parametrize("kind", ["memory", "redis"])
async def test_sliding_window_has_no_burst_at_the_edge(kind: str) -> None:
    windows, client = await _windows(kind)
    clock = Clock()
    lim = Limiter(windows, lambda a: 0, clock)
    k, p = key_record(), plan("x/y:free")
    t0 = clock.t
    for i in range(20):
        clock.t = t0 + i  # one a second
        await lim.check(k, p)
    clock.t = t0 + 59.5
    with pytest.raises(GatewayError) as info:
        await lim.check(k, p)
    assert info.value.status == 429
    assert info.value.headers["Retry-After"] == "1"  # the first request leaves at t0 + 60
    clock.t = t0 + 60.5  # a fixed window would now allow 20 at once; a sliding one allows 1
    await lim.check(k, p)
    with pytest.raises(GatewayError):
        await lim.check(k, p)
    clock.t = t0 + 61.5
    await lim.check(k, p)
    if client is not None:
        await client.aclose()


@pytest.mark.parametrize("kind", ["memory", "redis"])
@pytest.mark.parametrize(("bought", "per_day"), [(0, 200), (9_999_999_999_999, 200),
                                                 (10 * 10**12, 1000)])
async def test_free_daily_limit_200_or_1000_after_ten_dollars(
    kind: str, bought: int, per_day: int
) -> None:
    windows, client = await _windows(kind)
    clock = Clock()
    lim = Limiter(windows, lambda a: bought, clock)
    k, p = key_record(), plan("x/y:free")
    for _ in range(per_day):
        await lim.check(k, p)
        clock.t += 3.01  # under 20 a minute
    with pytest.raises(GatewayError) as info:
        await lim.check(k, p)
    assert info.value.status == 429
    assert info.value.headers["X-RateLimit-Limit"] == str(per_day)
    assert int(info.value.headers["Retry-After"]) > 3600  # a day's window
    # paid models have no limit unless the provider sets one
    for _ in range(50):
        await lim.check(k, plan("x/paid"))
    if client is not None:
        await client.aclose()
