"""/health is a cheap liveness check; /ready says whether this instance should get traffic:
503 with the reason while starting or draining, or when the database or Redis is gone."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from switchboard.app import create_app
from switchboard.settings import load_settings
from tests.e2e.routing_support import wait_for
from tests.ops.support import LogCapture, ops_gateway
from tests.ops.tcp_proxy import TcpProxy
from tests.support import GatewayServer, MockUpstream

REDIS_DB = 11  # not used by other suites


@pytest.fixture(scope="module")
def redis_proxy() -> Iterator[TcpProxy]:
    proxy = TcpProxy("127.0.0.1", 6379)
    yield proxy
    proxy.close()


@pytest.fixture(scope="module")
def gw(mock: MockUpstream, redis_proxy: TcpProxy,
       tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayServer]:
    import yaml

    from tests.e2e.routing_support import routing_config

    conf = yaml.safe_load(routing_config(mock.url))
    gw = GatewayServer(yaml.safe_dump(conf), tmp_path_factory.mktemp("ops-ready"), env={
        "SWITCHBOARD_REDIS_URL": f"redis://127.0.0.1:{redis_proxy.port}/{REDIS_DB}"})
    yield gw
    gw.stop()


def get(gw: GatewayServer, path: str) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{gw.port}{path}", timeout=10)


def test_ready_when_the_database_and_redis_answer(gw: GatewayServer) -> None:
    r = get(gw, "/ready")
    assert r.status_code == 200
    assert r.json() == {"status": "ready", "checks": {"database": "ok", "redis": "ok"}}


def test_not_ready_while_redis_is_unreachable_and_ready_again_after(
    gw: GatewayServer, redis_proxy: TcpProxy, logs: LogCapture
) -> None:
    redis_proxy.down()
    try:
        r = get(gw, "/ready")
        assert r.status_code == 503
        body = r.json()
        assert body["status"] == "unavailable"
        assert body["reason"].startswith("redis unreachable")
        assert body["checks"]["database"] == "ok"
        assert get(gw, "/health").status_code == 200  # liveness does not depend on Redis
        # the health refresh (every second) notices the loss: one line, not one per second
        assert wait_for(lambda: logs.where(msg="redis health refresh failed"), 10)
    finally:
        redis_proxy.up()
    assert wait_for(lambda: get(gw, "/ready").status_code == 200, 10)
    assert wait_for(lambda: logs.where(msg="redis health refresh recovered"), 10)
    [lost] = logs.where(msg="redis health refresh failed")
    assert lost["level"] == "error" and lost["component"] == "redis health refresh"


def test_not_ready_while_draining(gw: GatewayServer) -> None:
    gw.app._draining = True  # what the lifespan shutdown sets before waiting for streams
    try:
        r = get(gw, "/ready")
        assert r.status_code == 503
        assert r.json()["status"] == "draining" and r.json()["reason"]
        assert get(gw, "/health").json()["status"] == "draining"
    finally:
        gw.app._draining = False


async def _asgi_get(app: Any, path: str) -> tuple[int, bytes, dict[bytes, bytes]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(msg: dict[str, Any]) -> None:
        sent.append(msg)

    await app({"type": "http", "method": "GET", "path": path, "headers": [],
               "client": ("127.0.0.1", 1)}, receive, send)
    return sent[0]["status"], sent[1]["body"], dict(sent[0]["headers"])


async def test_not_ready_before_startup(mock: MockUpstream, tmp_path: Any) -> None:
    import orjson

    app = create_app(load_settings())  # never started: the lifespan has not run
    status, body, headers = await _asgi_get(app, "/ready")
    assert status == 503 and orjson.loads(body)["status"] == "starting"
    assert headers[b"x-request-id"].startswith(b"req-")
    status, body, _ = await _asgi_get(app, "/health")
    assert status == 503 and orjson.loads(body)["status"] == "starting"


def test_ready_without_redis(mock: MockUpstream, tmp_path: Any) -> None:
    gw = ops_gateway(mock, tmp_path)
    try:
        assert get(gw, "/ready").json() == {"status": "ready", "checks": {"database": "ok"}}
    finally:
        gw.stop()
