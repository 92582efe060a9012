"""HealthStore behaviour, run against the in-process tracker and the Redis one alike."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from types import MappingProxyType

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from switchboard.routing.health import UNKNOWN, HealthSnapshot, HealthStore, HealthTracker
from switchboard.routing.health_redis import RedisHealthTracker
from tests.redis_guard import claim_async

REDIS_URL = "redis://127.0.0.1:6379/15"
KEY = "openai:gpt-5"


class FakeClock:
    def __init__(self, t: float = 1_700_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


Factory = Callable[[FakeClock], HealthStore]


@pytest.fixture
async def redis_client() -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(REDIS_URL)
    await claim_async(client, REDIS_URL)
    yield client
    await client.flushdb()
    await client.aclose()


@pytest.fixture(params=["memory", "redis"])
def make_store(request: pytest.FixtureRequest) -> Factory:
    if request.param == "memory":
        return lambda clock: HealthTracker(clock=clock)
    client = request.getfixturevalue("redis_client")
    return lambda clock: RedisHealthTracker(client, clock=clock)


async def settle(store: HealthStore) -> HealthSnapshot:
    """Wait for write-behind and pull shared state, where the store has either."""
    if isinstance(store, RedisHealthTracker):
        await store.flush()
        await store.refresh()
    return store.snapshot()


async def fail(store: HealthStore, times: int, to_open: int = 3, cooldown: float = 30.0) -> None:
    for _ in range(times):
        await store.record_failure(KEY, to_open, cooldown)


async def test_unknown_endpoint_is_healthy_and_unmeasured(make_store: Factory) -> None:
    store = make_store(FakeClock())
    assert (await settle(store)).get(KEY) == UNKNOWN
    assert await store.allow_probe(KEY) is True


async def test_circuit_opens_after_n_consecutive_failures(make_store: Factory) -> None:
    clock = FakeClock()
    store = make_store(clock)
    await fail(store, 2)
    h = (await settle(store)).get(KEY)
    assert (h.state, h.consecutive_failures) == ("closed", 2)
    await fail(store, 1)
    snap = await settle(store)
    h = snap.get(KEY)
    assert (h.state, h.consecutive_failures) == ("open", 3)
    assert h.open_until == pytest.approx(clock.t + 30)
    assert snap.circuit(KEY) == "blocked"


async def test_a_success_resets_the_failure_count(make_store: Factory) -> None:
    store = make_store(FakeClock())
    await fail(store, 2)
    await store.record_success(KEY, 100.0, 50.0)
    await fail(store, 2)
    h = (await settle(store)).get(KEY)
    assert (h.state, h.consecutive_failures) == ("closed", 2)


async def test_one_probe_after_cooldown_and_success_closes(make_store: Factory) -> None:
    clock = FakeClock()
    store = make_store(clock)
    await fail(store, 3)
    await settle(store)
    assert await store.allow_probe(KEY) is False  # cooling down
    clock.advance(30)
    assert (await settle(store)).circuit(KEY) == "probe"
    assert await store.allow_probe(KEY) is True
    assert await store.allow_probe(KEY) is False  # one probe at a time
    assert (await settle(store)).get(KEY).state == "half_open"
    await store.record_success(KEY, 120.0, 40.0)
    h = (await settle(store)).get(KEY)
    assert (h.state, h.consecutive_failures, h.open_until) == ("closed", 0, None)
    assert await store.allow_probe(KEY) is True


async def test_failed_probe_reopens_for_a_full_cooldown(make_store: Factory) -> None:
    clock = FakeClock()
    store = make_store(clock)
    await fail(store, 3)
    clock.advance(31)
    await settle(store)
    assert await store.allow_probe(KEY) is True
    await fail(store, 1)
    h = (await settle(store)).get(KEY)
    assert h.state == "open"
    assert h.open_until == pytest.approx(clock.t + 30)
    assert await store.allow_probe(KEY) is False


async def test_a_lost_probe_does_not_wedge_the_circuit(make_store: Factory) -> None:
    clock = FakeClock()
    store = make_store(clock)
    await fail(store, 3, cooldown=10)
    clock.advance(10)
    await settle(store)
    assert await store.allow_probe(KEY) is True  # this probe never reports back
    clock.advance(5)
    assert await store.allow_probe(KEY) is False
    clock.advance(5)
    await settle(store)
    assert await store.allow_probe(KEY) is True


async def test_late_failures_do_not_extend_an_open_circuit(make_store: Factory) -> None:
    clock = FakeClock()
    store = make_store(clock)
    await fail(store, 3)
    opened_until = (await settle(store)).get(KEY).open_until
    clock.advance(10)
    await fail(store, 2)  # requests that were in flight when it opened
    assert (await settle(store)).get(KEY).open_until == opened_until


async def test_zero_threshold_never_opens(make_store: Factory) -> None:
    store = make_store(FakeClock())
    await fail(store, 20, to_open=0)
    assert (await settle(store)).get(KEY).state == "closed"


async def test_error_rate_over_a_sliding_window(make_store: Factory) -> None:
    clock = FakeClock(1_700_000_000.0)  # a multiple of the 5 s bucket
    store = make_store(clock)
    await fail(store, 1, to_open=99)
    clock.advance(30)
    await store.record_success(KEY)
    h = (await settle(store)).get(KEY)
    assert (h.error_rate, h.requests) == (0.5, 2)
    assert h.recently_failed
    clock.advance(29)  # t = 59: both still inside the last minute
    assert (await settle(store)).get(KEY).error_rate == 0.5
    clock.advance(2)  # t = 61: the failure has left the window
    h = (await settle(store)).get(KEY)
    assert (h.error_rate, h.requests) == (0.0, 1)
    clock.advance(60)
    h = (await settle(store)).get(KEY)
    assert (h.error_rate, h.requests) == (0.0, 0)


async def test_speed_is_the_median_of_recent_samples(make_store: Factory) -> None:
    clock = FakeClock()
    store = make_store(clock)
    for ttft, tps in ((100.0, 10.0), (300.0, 30.0), (200.0, None), (None, 20.0)):
        await store.record_success(KEY, ttft, tps)
    h = (await settle(store)).get(KEY)
    assert (h.latency_ms, h.throughput_tps) == (200.0, 20.0)
    clock.advance(61)
    h = (await settle(store)).get(KEY)
    assert (h.latency_ms, h.throughput_tps) == (None, None)


async def test_endpoints_are_tracked_separately(make_store: Factory) -> None:
    store = make_store(FakeClock())
    await fail(store, 3)
    await store.record_success("anthropic:claude", 50.0, 90.0)
    snap = await settle(store)
    assert snap.get(KEY).state == "open"
    assert snap.get("anthropic:claude").state == "closed"
    assert set(snap.endpoints) == {KEY, "anthropic:claude"}


async def test_snapshot_is_immutable_and_does_not_move(make_store: Factory) -> None:
    store = make_store(FakeClock())
    await store.record_success(KEY, 100.0, 10.0)
    before = await settle(store)
    await fail(store, 5)
    await settle(store)
    assert before.get(KEY).state == "closed"
    with pytest.raises(TypeError):
        before.endpoints[KEY] = UNKNOWN  # type: ignore[index]


# -- in-process specifics --


async def test_unchanged_snapshot_reuses_its_view() -> None:
    clock = FakeClock()
    tracker = HealthTracker(clock=clock)
    await tracker.record_success(KEY, 1.0, 1.0)
    first = tracker.snapshot()
    assert tracker.snapshot().endpoints is first.endpoints
    await tracker.record_success(KEY, 1.0, 1.0)
    assert tracker.snapshot().endpoints is not first.endpoints


async def test_snapshot_now_follows_the_clock() -> None:
    clock = FakeClock(5.0)
    assert HealthTracker(clock=clock).snapshot().now == 5.0
    assert HealthSnapshot(MappingProxyType({})).get("x") == UNKNOWN


# -- Redis specifics --


def pair(client: aioredis.Redis, clock: FakeClock) -> tuple[RedisHealthTracker, RedisHealthTracker]:
    return RedisHealthTracker(client, clock=clock), RedisHealthTracker(client, clock=clock)


async def test_instances_share_failures_and_the_circuit(redis_client: aioredis.Redis) -> None:
    clock = FakeClock()
    a, b = pair(redis_client, clock)
    await a.record_failure(KEY, 3, 30)
    await b.record_failure(KEY, 3, 30)
    await a.record_failure(KEY, 3, 30)  # third failure in a row, across two instances
    await a.flush()
    await b.flush()
    await b.refresh()
    assert b.snapshot().get(KEY).state == "open"


async def test_only_one_instance_gets_the_probe(redis_client: aioredis.Redis) -> None:
    clock = FakeClock()
    a, b = pair(redis_client, clock)
    await fail(a, 3)
    await a.flush()
    clock.advance(30)
    await a.refresh()
    await b.refresh()
    grants = await asyncio.gather(*(t.allow_probe(KEY) for t in (a, b, a, b)))
    assert sorted(grants) == [False, False, False, True]
    await b.record_success(KEY, 80.0, 25.0)
    await b.flush()
    await a.refresh()
    assert a.snapshot().get(KEY).state == "closed"
    assert a.snapshot().get(KEY).latency_ms == 80.0


async def test_background_refresh_picks_up_other_instances(redis_client: aioredis.Redis) -> None:
    writer = RedisHealthTracker(redis_client)
    reader = RedisHealthTracker(redis_client, refresh_s=0.02)
    await reader.start()
    try:
        await writer.record_success(KEY, 42.0, 7.0)
        await writer.flush()
        for _ in range(100):
            if reader.snapshot().get(KEY).latency_ms == 42.0:
                break
            await asyncio.sleep(0.01)
        assert reader.snapshot().get(KEY).latency_ms == 42.0
    finally:
        await reader.stop()


async def test_window_counters_expire(redis_client: aioredis.Redis) -> None:
    store = RedisHealthTracker(redis_client, prefix="t")
    await store.record_success(KEY, 1.0, 1.0)
    await store.record_failure(KEY, 5, 30)
    await store.flush()
    keys = [k if isinstance(k, str) else k.decode() for k in await redis_client.keys("t:*")]
    windowed = [k for k in keys if ":w:" in k or k.endswith(":s")]
    assert windowed
    for k in windowed:
        assert 0 < await redis_client.ttl(k) <= 70
    assert await redis_client.ttl(f"t:{{{KEY}}}") > 0


async def test_redis_down_never_breaks_the_request_path() -> None:
    # no client-side retries: the test is about our handling, not redis-py's backoff
    client = aioredis.Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0))
    store = RedisHealthTracker(client)
    try:
        await store.record_success(KEY, 1.0, 1.0)
        await store.record_failure(KEY, 1, 30)
        await store.flush()
        assert store.snapshot().get(KEY) == UNKNOWN
        assert await store.allow_probe(KEY) is True
        await store.start()  # logs and carries on
        await store.stop()
    finally:
        await client.aclose()


async def test_records_reach_redis_in_the_order_they_were_made(
    redis_client: aioredis.Redis,
) -> None:
    # regression: one task per record let a success overtake the failures before it
    store = RedisHealthTracker(redis_client, clock=FakeClock())
    for _ in range(30):
        await store.record_failure(KEY, 99, 30)
        await store.record_success(KEY)
    await fail(store, 2, to_open=99)
    assert (await settle(store)).get(KEY).consecutive_failures == 2
