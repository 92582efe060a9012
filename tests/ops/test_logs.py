"""Log lines an operator reads: one per request, per failed attempt, per fallback, per
circuit change and per rejected request; JSON when asked; never a key or prompt text."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.routing_support import RoutingClient, fail, ok, route, script, stream_ok, wait_for
from tests.ops.support import LogCapture, fresh_health, ops_gateway
from tests.support import GatewayServer, MockUpstream, Reply


@pytest.fixture(scope="module")
def gw(mock: MockUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayServer]:
    gw = ops_gateway(mock, tmp_path_factory.mktemp("ops-logs"))
    yield gw
    gw.stop()


@pytest.fixture()
def client(gw: GatewayServer, upstream: MockUpstream) -> RoutingClient:
    fresh_health(gw)
    return RoutingClient(gw, gw.new_key())


def request_lines(logs: LogCapture, request_id: str) -> list[dict]:
    return [ln for ln in logs.where(msg="request") if ln.get("request_id") == request_id]


def test_fallback_logs_the_failed_attempt_the_fallback_and_one_request_line(
    client: RoutingClient, upstream: MockUpstream, logs: LogCapture
) -> None:
    script(upstream, "a", fail(500))
    script(upstream, "b", ok("fine"))
    client.headers["X-Request-Id"] = "trace-me-1"
    r = client.chat(provider=route("a", "b"))
    assert r.status_code == 200
    gen_id = r.headers["x-generation-id"]
    assert wait_for(lambda: request_lines(logs, "trace-me-1"))
    [line] = request_lines(logs, "trace-me-1")
    assert line["level"] == "info" and line["logger"] == "switchboard.request"
    assert line["generation_id"] == gen_id
    assert line["model"] == "test/m1" and line["provider"] == "b"
    assert [(a["provider"], a["status"]) for a in line["attempts"]] == [("a", 500), ("b", 200)]
    assert line["attempts"][0]["error"]
    assert line["status"] == 200
    assert line["prompt_tokens"] == 10 and line["completion_tokens"] == 5
    assert line["cost_usd"] > 0
    assert line["latency_ms"] >= 0 and line["ttft_ms"] is not None
    assert len(line["key"]) == 12 and line["key"] not in client.key
    assert line["time"].endswith("Z")

    [failed] = [ln for ln in logs.where(msg="upstream attempt failed")
                if ln.get("request_id") == "trace-me-1"]
    assert failed["level"] == "warning"
    assert failed["provider"] == "a" and failed["status"] == 500
    assert failed["outcome"] == "server_error"
    [moved] = [ln for ln in logs.where(msg="fallback") if ln.get("request_id") == "trace-me-1"]
    assert moved["from"] == "a" and moved["to"] == "b" and moved["model"] == "test/m1"


def test_timeout_and_reset_are_classed_in_the_attempt_lines(
    client: RoutingClient, upstream: MockUpstream, logs: LogCapture
) -> None:
    script(upstream, "a", Reply(json={}, delay_s=1.5))  # first_token timeout is 1 s
    script(upstream, "b", Reply(reset=True))
    script(upstream, "c", ok())
    client.headers["X-Request-Id"] = "trace-me-2"
    r = client.chat(provider=route("a", "b", "c"))
    assert r.status_code == 200
    failed = [ln for ln in logs.where(msg="upstream attempt failed")
              if ln.get("request_id") == "trace-me-2"]
    assert [(ln["provider"], ln["outcome"]) for ln in failed] == [
        ("a", "timeout"), ("b", "reset")]
    assert [ln["to"] for ln in logs.where(msg="fallback")
            if ln.get("request_id") == "trace-me-2"] == ["b", "c"]


def test_all_attempts_failing_is_one_request_line_with_the_error_and_no_rejection_line(
    client: RoutingClient, upstream: MockUpstream, logs: LogCapture
) -> None:
    script(upstream, "a", fail(503))
    script(upstream, "b", fail(500), fail(500))  # the last endpoint is retried once
    client.headers["X-Request-Id"] = "trace-me-3"
    r = client.chat(provider=route("a", "b"))
    assert r.status_code >= 500
    assert wait_for(lambda: request_lines(logs, "trace-me-3"))
    [line] = request_lines(logs, "trace-me-3")
    assert line["status"] == r.status_code and line["provider"] is None
    assert line["error"]
    assert [a["provider"] for a in line["attempts"]] == ["a", "b", "b"]
    assert not [ln for ln in logs.where(msg="rejected") if ln.get("request_id") == "trace-me-3"]


def test_circuit_opening_and_closing_are_logged(
    client: RoutingClient, upstream: MockUpstream, logs: LogCapture
) -> None:
    for _ in range(2):
        script(upstream, "a", fail(500))
        script(upstream, "b", ok())
        assert client.chat(provider=route("a", "b")).status_code == 200
    [opened] = [ln for ln in logs.where(logger="switchboard.circuit") if ln["to"] == "open"]
    assert opened["level"] == "warning" and opened["from"] == "closed"
    assert opened["endpoint"].startswith("a")
    # after the 1 s cooldown the probe succeeds and the circuit closes
    import time

    time.sleep(1.1)
    script(upstream, "a", ok())
    assert client.chat(provider=route("a")).status_code == 200
    changes = [(ln["from"], ln["to"]) for ln in logs.where(logger="switchboard.circuit")]
    assert changes == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]


@pytest.mark.parametrize(
    ("headers", "body", "status", "reason"),
    [
        ({"Authorization": "Bearer sk-sb-v1-not-a-real-key"}, {"model": "test/m1"}, 401,
         "unauthorized"),
        (None, {"model": "test/m1", "messages": "nope"}, 400, "bad_request"),
        ("limited", {"model": "test/m1", "messages": [{"role": "user", "content": "hi"}]},
         402, "key_limit_exceeded"),
    ],
)
def test_rejected_requests_leave_a_line_with_the_reason(
    client: RoutingClient, logs: LogCapture, headers: dict | str | None, body: dict,
    status: int, reason: str,
) -> None:
    if headers == "limited":
        headers = {"Authorization": f"Bearer {client.gw.new_key('tiny', limit=0.000001)}"}
    assert not isinstance(headers, str)
    r = httpx.post(f"{client.gw.base_url}/chat/completions", json=body,
                   headers={**(headers or client.headers), "X-Request-Id": "rejected-1"})
    assert r.status_code == status, r.text
    [line] = [ln for ln in logs.where(msg="rejected") if ln.get("request_id") == "rejected-1"]
    assert line["status"] == status
    assert line["reason"] == reason
    assert line["endpoint"] == "/api/v1/chat/completions"
    assert "detail" in line


def test_other_endpoints_get_an_access_line(client: RoutingClient, logs: LogCapture) -> None:
    r = httpx.get(f"{client.gw.base_url}/models", headers={"X-Request-Id": "list-1"})
    assert r.status_code == 200
    [line] = [ln for ln in logs.where(msg="request") if ln.get("request_id") == "list-1"]
    assert line["endpoint"] == "/api/v1/models" and line["status"] == 200
    assert line["method"] == "GET"


SECRET_PROMPT = "the purple giraffe recites 7741 sonnets"
SECRET_ANSWER = "zebra quantum marmalade 5512"


def test_no_log_line_holds_a_key_a_prompt_or_a_completion(
    gw: GatewayServer, client: RoutingClient, upstream: MockUpstream, logs: LogCapture
) -> None:
    """A full run with every kind of event (fallback, circuit, stream, rejection, error
    echoing the prompt): the captured lines name none of the secrets."""
    messages = [{"role": "user", "content": SECRET_PROMPT}]
    # an upstream error that quotes the prompt, as some providers' 400s do
    script(upstream, "a", fail(500, f"cannot handle: {SECRET_PROMPT}"),
           fail(500, SECRET_PROMPT))
    script(upstream, "b", ok(SECRET_ANSWER), ok(SECRET_ANSWER))
    for _ in range(2):
        assert client.chat(messages=messages, provider=route("a", "b")).status_code == 200
    script(upstream, "c", stream_ok(SECRET_ANSWER[:5], SECRET_ANSWER[5:]))
    s = client.stream(messages=messages, provider=route("c"))
    assert s.status == 200 and s.content == SECRET_ANSWER
    script(upstream, "c", fail(400, f"bad prompt: {SECRET_PROMPT}"))
    assert client.chat(messages=messages, provider=route("c")).status_code == 400
    bad = httpx.post(f"{gw.base_url}/chat/completions", json={"messages": messages},
                     headers={"Authorization": "Bearer sk-sb-v1-wrong" + client.key[-8:]})
    assert bad.status_code == 401
    assert httpx.get(f"{gw.base_url}/keys", headers=client.headers).status_code == 403
    assert wait_for(lambda: len(logs.where(msg="request")) >= 4)
    text = logs.text
    assert text.count("\n") >= 8
    for secret in (client.key, gw.admin_key, client.key[len("sk-sb-v1-"):], SECRET_PROMPT,
                   SECRET_ANSWER, "sk-a", "sk-b", "sk-c"):
        assert secret not in text, secret
