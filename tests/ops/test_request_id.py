"""X-Request-Id: taken from the client when printable and short, else replaced (never a
400); returned on every response, passed to OpenAI-wire upstreams, stored on the generation."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import httpx
import pytest

from switchboard.observability.context import MAX_REQUEST_ID, request_id_from
from tests.e2e.routing_support import RoutingClient, fail, ok, route, script, wait_for
from tests.ops.support import fresh_health, ops_gateway
from tests.support import GatewayServer, MockUpstream


@pytest.fixture(scope="module")
def gw(mock: MockUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayServer]:
    tmp = tmp_path_factory.mktemp("ops-rid")
    gw = ops_gateway(mock, tmp)
    gw.db_path = tmp / "sb.db"  # type: ignore[attr-defined]
    yield gw
    gw.stop()


@pytest.fixture()
def client(gw: GatewayServer, upstream: MockUpstream) -> RoutingClient:
    fresh_health(gw)
    return RoutingClient(gw, gw.new_key())


@pytest.mark.parametrize("given", ["abc-123", "x" * MAX_REQUEST_ID, "with spaces & {json}"])
def test_a_good_id_is_kept(given: str) -> None:
    assert request_id_from(given) == given


@pytest.mark.parametrize("given", [None, "", "   ", "x" * (MAX_REQUEST_ID + 1), "tab\there",
                                   "caf\u00e9", "nl\nx"])
def test_a_bad_id_is_replaced(given: str | None) -> None:
    fresh = request_id_from(given)
    assert fresh != given and fresh.startswith("req-") and len(fresh) <= MAX_REQUEST_ID


def test_the_id_goes_upstream_comes_back_and_is_stored(
    gw: GatewayServer, client: RoutingClient, upstream: MockUpstream
) -> None:
    script(upstream, "a", fail(502))
    script(upstream, "b", ok())
    client.headers["X-Request-Id"] = "client-chosen-42"
    r = client.chat(provider=route("a", "b"))
    assert r.status_code == 200
    assert r.headers["x-request-id"] == "client-chosen-42"
    # every attempt carries it, so the provider's own logs can be matched to ours
    assert [{k.lower(): v for k, v in h["headers"].items()}.get("x-request-id")
            for h in upstream.requests] == [
        "client-chosen-42", "client-chosen-42"]
    gen_id = r.headers["x-generation-id"]

    def stored() -> str | None:
        with sqlite3.connect(gw.db_path) as db:  # type: ignore[attr-defined]
            row = db.execute("SELECT request_id FROM generations WHERE id = ?",
                             (gen_id,)).fetchone()
        return row[0] if row else None

    assert wait_for(lambda: stored() == "client-chosen-42")
    assert client.generation(gen_id)["request_id"] == "client-chosen-42"


def test_a_stream_returns_the_id(client: RoutingClient, upstream: MockUpstream) -> None:
    client.headers["X-Request-Id"] = "streamed-7"
    s = client.stream(provider=route("a"))
    assert s.status == 200 and s.headers["x-request-id"] == "streamed-7"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/health", 200), ("GET", "/ready", 200), ("GET", "/metrics", 200),
     ("GET", "/api/v1/nope", 404), ("DELETE", "/api/v1/models", 405),
     ("GET", "/api/v1/credits", 401), ("POST", "/api/v1/chat/completions", 401)],
)
def test_every_response_carries_an_id(gw: GatewayServer, method: str, path: str,
                                      status: int) -> None:
    url = f"http://127.0.0.1:{gw.port}{path}"
    r = httpx.request(method, url, headers={"X-Request-Id": "mine"})
    assert r.status_code == status and r.headers["x-request-id"] == "mine"
    fresh = httpx.request(method, url)
    assert fresh.headers["x-request-id"].startswith("req-")
    bad = httpx.request(method, url, headers={"X-Request-Id": "y" * 500})
    assert bad.status_code == status  # a bad id is replaced, never refused
    assert bad.headers["x-request-id"].startswith("req-")


def test_ids_are_fresh_per_request(gw: GatewayServer) -> None:
    ids = {httpx.get(f"http://127.0.0.1:{gw.port}/health").headers["x-request-id"]
           for _ in range(5)}
    assert len(ids) == 5
