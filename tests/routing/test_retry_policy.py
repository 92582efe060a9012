import random

import pytest

from switchboard.dialects.base import UpstreamError
from switchboard.dialects.errors import classify
from switchboard.routing.retry_policy import (
    BACKOFF_S,
    NEXT_ENDPOINT,
    NEXT_MODEL,
    STOP,
    Action,
    AttemptError,
    Decision,
    FailureKind,
    decide,
    final_error,
)


def upstream(status: int, message: str = "boom", retry_after: str | None = None) -> UpstreamError:
    headers = {"retry-after": retry_after} if retry_after is not None else {}
    return classify(status, message, {"error": message}, headers)


def run(
    error: UpstreamError | None,
    kind: FailureKind = "status",
    last: bool = False,
    retried: bool = False,
    cap: float = 5.0,
) -> Decision:
    return decide(error, kind, last, retried, cap, random.Random(1))


# (status, kind, last endpoint of the model?, already retried?) -> action
TABLE = [
    # the request's fault: the model's other endpoints would refuse it too
    (400, "status", False, False, Action.NEXT_MODEL),
    (413, "status", False, False, Action.NEXT_MODEL),
    (422, "status", False, False, Action.NEXT_MODEL),
    (400, "status", True, False, Action.NEXT_MODEL),
    # the provider's fault: next endpoint at once
    (401, "status", False, False, Action.NEXT_ENDPOINT),
    (402, "status", False, False, Action.NEXT_ENDPOINT),
    (403, "status", False, False, Action.NEXT_ENDPOINT),
    (404, "status", False, False, Action.NEXT_ENDPOINT),
    (408, "status", False, False, Action.NEXT_ENDPOINT),
    (429, "status", False, False, Action.NEXT_ENDPOINT),
    (500, "status", False, False, Action.NEXT_ENDPOINT),
    (502, "status", False, False, Action.NEXT_ENDPOINT),
    (503, "status", False, False, Action.NEXT_ENDPOINT),
    (504, "status", False, False, Action.NEXT_ENDPOINT),
    (529, "status", False, False, Action.NEXT_ENDPOINT),
    (None, "timeout", False, False, Action.NEXT_ENDPOINT),
    (None, "connect", False, False, Action.NEXT_ENDPOINT),
    (None, "reset", False, False, Action.NEXT_ENDPOINT),
    (None, "unparseable", False, False, Action.NEXT_ENDPOINT),
    # last endpoint: transient failures get one retry
    (500, "status", True, False, Action.RETRY_SAME),
    (502, "status", True, False, Action.RETRY_SAME),
    (503, "status", True, False, Action.RETRY_SAME),
    (529, "status", True, False, Action.RETRY_SAME),
    (None, "reset", True, False, Action.RETRY_SAME),
    (500, "status", True, True, Action.NEXT_MODEL),
    (None, "reset", True, True, Action.NEXT_MODEL),
    # last endpoint, not transient: on to the next model
    (401, "status", True, False, Action.NEXT_MODEL),
    (403, "status", True, False, Action.NEXT_MODEL),
    (408, "status", True, False, Action.NEXT_MODEL),
    (504, "status", True, False, Action.NEXT_MODEL),
    (429, "status", True, False, Action.NEXT_MODEL),  # no Retry-After
    (None, "timeout", True, False, Action.NEXT_MODEL),
    (None, "connect", True, False, Action.NEXT_MODEL),
    (None, "unparseable", True, False, Action.NEXT_MODEL),
]


@pytest.mark.parametrize(("status", "kind", "last", "retried", "action"), TABLE)
def test_decision_table(
    status: int | None, kind: FailureKind, last: bool, retried: bool, action: Action
) -> None:
    error = upstream(status) if status is not None else None
    assert run(error, kind, last, retried).action is action


def test_transient_retry_waits_a_jittered_backoff() -> None:
    delays = {
        decide(upstream(503), "status", True, False, 5.0, random.Random(s)).delay_s
        for s in range(50)
    }
    assert all(BACKOFF_S[0] <= d <= BACKOFF_S[1] for d in delays)
    assert len(delays) > 40  # jittered, not one fixed value


@pytest.mark.parametrize("status", [400, 403])
def test_content_policy_refusal_stops(status: int) -> None:
    refusal = upstream(status, "Your request was flagged by our content policy")
    assert refusal.error_type == "content_policy"
    assert run(refusal) is STOP
    assert run(refusal, last=True) is STOP


def test_context_length_error_moves_to_the_next_model() -> None:
    err = upstream(400, "This model's maximum context length is 8192 tokens")
    assert err.error_type == "context_length_exceeded"
    assert run(err) is NEXT_MODEL


def test_rate_limit_with_short_retry_after_is_retried_after_that_wait() -> None:
    assert run(upstream(429, retry_after="3"), last=True) == Decision(Action.RETRY_SAME, 3.0)
    assert run(upstream(429, retry_after="5"), last=True) == Decision(Action.RETRY_SAME, 5.0)


def test_rate_limit_retry_after_zero_is_not_a_tight_loop() -> None:
    assert run(upstream(429, retry_after="0"), last=True).delay_s == BACKOFF_S[0]


def test_rate_limit_over_the_cap_is_not_retried() -> None:
    assert run(upstream(429, retry_after="6"), last=True) is NEXT_MODEL
    assert run(upstream(429, retry_after="6"), last=True, cap=10) == Decision(
        Action.RETRY_SAME, 6.0
    )


def test_rate_limit_is_retried_once_only() -> None:
    assert run(upstream(429, retry_after="1"), last=True, retried=True) is NEXT_MODEL


def test_rate_limit_on_an_earlier_endpoint_moves_on_at_once() -> None:
    assert run(upstream(429, retry_after="1")) is NEXT_ENDPOINT


# -- final_error --


def failed(
    status: int | None, kind: FailureKind = "status", provider: str = "openai", **kw: str
) -> AttemptError:
    error = upstream(status, **kw) if status is not None else None
    return AttemptError(provider, provider.title(), kind, error, model="m/x")


@pytest.mark.parametrize(
    ("last", "status"),
    [
        (failed(429), 429),
        (failed(None, "timeout"), 408),
        (failed(504), 408),
        (failed(403), 403),
        (failed(400, message="flagged by moderation"), 403),
        (failed(400), 400),
        (failed(413), 413),
        (failed(422), 422),
        (failed(401), 502),
        (failed(402), 502),
        (failed(404), 502),
        (failed(500), 502),
        (failed(503), 502),
        (failed(None, "connect"), 502),
        (failed(None, "reset"), 502),
        (failed(None, "unparseable"), 502),
    ],
)
def test_final_status_follows_the_last_failure(last: AttemptError, status: int) -> None:
    assert final_error([failed(500, provider="anthropic"), last]).status == status


def test_final_error_lists_every_attempt() -> None:
    err = final_error([failed(503, provider="anthropic"), failed(None, "timeout", "openai")])
    assert err.metadata["attempts"] == [
        {
            "provider": "anthropic",
            "provider_name": "Anthropic",
            "status": 502,
            "error_type": "provider_unavailable",
            "message": "boom",
            "model": "m/x",
        },
        {
            "provider": "openai",
            "provider_name": "Openai",
            "status": 408,
            "error_type": "timeout",
            "message": "Openai timed out",
            "model": "m/x",
        },
    ]
    assert err.metadata["provider"] == "openai"
    assert err.metadata["provider_name"] == "Openai"
    assert err.metadata["raw"] is None
    assert err.error_type == "timeout"
    assert err.body()["error"]["metadata"]["error_type"] == "timeout"


def test_final_error_carries_the_last_upstream_body_and_code() -> None:
    err = final_error([failed(502, provider="anthropic", message="bad gateway")])
    assert err.metadata["raw"] == {"error": "bad gateway"}
    assert err.metadata["provider_code"] == 502
    assert err.message == "bad gateway"


def test_final_rate_limit_carries_retry_after() -> None:
    err = final_error([failed(429, retry_after="2.5")])
    assert (err.status, err.headers) == (429, {"Retry-After": "3"})


def test_no_attempt_at_all_is_a_503() -> None:
    err = final_error([])
    assert (err.status, err.error_type) == (503, "provider_unavailable")


def test_constants() -> None:
    assert NEXT_ENDPOINT.action is Action.NEXT_ENDPOINT and NEXT_ENDPOINT.delay_s == 0
