"""OpenTelemetry: a server span per request and a client span per upstream attempt, sent
over OTLP/HTTP to a local receiver; trace context from the client's traceparent and out
to the upstream."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.routing_support import RoutingClient, fail, ok, route, script, stream_ok
from tests.ops.otlp_receiver import OtlpReceiver
from tests.ops.support import fresh_health, ops_gateway
from tests.support import GatewayServer, MockUpstream

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"
SERVER, CLIENT = 2, 3  # OTLP span kinds
ERROR = 2  # OTLP status code


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    r = OtlpReceiver()
    yield r
    r.close()


@pytest.fixture(scope="module")
def gw(mock: MockUpstream, receiver: OtlpReceiver,
       tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayServer]:
    gw = ops_gateway(mock, tmp_path_factory.mktemp("ops-trace"),
                     tracing={"otlp_endpoint": receiver.url, "service_name": "sb-test"})
    yield gw
    gw.stop()


@pytest.fixture()
def client(gw: GatewayServer, upstream: MockUpstream, receiver: OtlpReceiver) -> RoutingClient:
    fresh_health(gw)
    receiver.spans.clear()
    return RoutingClient(gw, gw.new_key())


def flush(gw: GatewayServer) -> None:
    tracing = gw.app.observer.tracing
    assert tracing is not None
    tracing.flush()


def header(entry: dict, name: str) -> str | None:
    return {k.lower(): v for k, v in entry["headers"].items()}.get(name)


def test_a_fallback_is_two_attempt_spans_under_one_request_span(
    gw: GatewayServer, client: RoutingClient, upstream: MockUpstream, receiver: OtlpReceiver
) -> None:
    script(upstream, "a", fail(500))
    script(upstream, "b", ok())
    client.headers["traceparent"] = f"00-{TRACE_ID}-{CLIENT_SPAN}-01"
    client.headers["X-Request-Id"] = "traced-1"
    r = client.chat(provider=route("a", "b"))
    assert r.status_code == 200
    flush(gw)
    spans = [s for s in receiver.spans if s["trace_id"] == TRACE_ID]
    [server] = [s for s in spans if s["kind"] == SERVER]
    attempts = sorted((s for s in spans if s["kind"] == CLIENT), key=lambda s: s["start"])
    assert len(attempts) == 2
    # the client's span is the parent of ours: one trace from the caller to the provider
    assert server["parent_id"] == CLIENT_SPAN
    assert server["name"] == "POST /api/v1/chat/completions"
    assert server["resource"]["service.name"] == "sb-test"
    sa = server["attributes"]
    assert sa["gen_ai.operation.name"] == "chat"
    assert sa["gen_ai.request.model"] == "test/m1"
    assert sa["gen_ai.provider.name"] == "b"
    assert sa["gen_ai.usage.input_tokens"] == 10
    assert sa["gen_ai.usage.output_tokens"] == 5
    assert sa["gen_ai.response.finish_reasons"] == ["stop"]
    assert sa["http.response.status_code"] == 200
    assert sa["switchboard.request_id"] == "traced-1"
    assert sa["switchboard.generation_id"] == r.headers["x-generation-id"]

    failed, served = attempts
    assert {failed["parent_id"], served["parent_id"]} == {server["span_id"]}
    assert failed["attributes"]["gen_ai.provider.name"] == "a"
    assert failed["attributes"]["gen_ai.request.model"] == "m1-a"
    assert failed["attributes"]["error.type"]
    assert failed["status"] == ERROR
    assert served["attributes"]["gen_ai.provider.name"] == "b"
    assert "error.type" not in served["attributes"]
    assert failed["name"] == "chat m1-a" and served["name"] == "chat m1-b"
    # each upstream call carried its own attempt span as the parent
    sent = [header(e, "traceparent") for e in upstream.requests]
    assert sent == [f"00-{TRACE_ID}-{failed['span_id']}-01",
                    f"00-{TRACE_ID}-{served['span_id']}-01"]


def test_without_traceparent_a_new_trace_starts(
    gw: GatewayServer, client: RoutingClient, upstream: MockUpstream, receiver: OtlpReceiver
) -> None:
    script(upstream, "c", stream_ok("Hel", "lo"))
    s = client.stream(provider=route("c"))
    assert s.status == 200
    flush(gw)
    [server] = [s for s in receiver.spans if s["name"] == "POST /api/v1/chat/completions"]
    [attempt] = [s for s in receiver.spans if s["kind"] == CLIENT]
    assert server["parent_id"] == "" and attempt["parent_id"] == server["span_id"]
    assert attempt["trace_id"] == server["trace_id"]
    assert server["attributes"]["gen_ai.usage.output_tokens"] == 5
    # the span ends with the stream, not when the first byte goes out
    assert server["end"] > attempt["start"]


def test_probes_and_scrapes_make_no_spans(gw: GatewayServer, client: RoutingClient,
                                          receiver: OtlpReceiver) -> None:
    import httpx

    for path in ("/health", "/ready", "/metrics"):
        assert httpx.get(f"http://127.0.0.1:{gw.port}{path}").status_code == 200
    flush(gw)
    assert [s["name"] for s in receiver.spans if s["name"] != "POST /api/v1/keys"] == []


def test_tracing_off_loads_no_opentelemetry() -> None:
    """The default gateway never loads the tracing module (other libraries, such as
    redis-py, may import OpenTelemetry's API for their own reasons)."""
    import subprocess
    import sys

    code = ("import sys; from switchboard.app import create_app; "
            "from switchboard.settings import load_settings; app = create_app(load_settings()); "
            "assert app.observer.tracing is None; "
            "print('switchboard.observability.tracing' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={"PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == "False"
