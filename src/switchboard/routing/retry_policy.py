"""What the executor does after a failed attempt (SPEC §3 "Retries and fallbacks").

Pure decisions; the executor owns the clock, the sleeping and the plan cursor.
"""

from __future__ import annotations

import enum
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from switchboard.dialects.base import UpstreamError
from switchboard.errors import GatewayError

FailureKind = Literal["status", "timeout", "connect", "reset", "unparseable"]

TRANSIENT_STATUSES = frozenset({500, 502, 503, 529})  # 529: Anthropic's "overloaded"
REQUEST_FAULT_STATUSES = frozenset({400, 413, 422})  # another endpoint would refuse it too
BACKOFF_S = (0.2, 0.5)  # jittered wait before retrying a transient failure


class Action(enum.Enum):
    NEXT_ENDPOINT = "next_endpoint"
    NEXT_MODEL = "next_model"  # skip this model's remaining endpoints
    RETRY_SAME = "retry_same"  # the same endpoint again, after delay_s
    STOP = "stop"  # return this error to the client as it is


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    delay_s: float = 0.0


NEXT_ENDPOINT = Decision(Action.NEXT_ENDPOINT)
NEXT_MODEL = Decision(Action.NEXT_MODEL)
STOP = Decision(Action.STOP)


def decide(
    error: UpstreamError | None,
    kind: FailureKind,
    is_last_endpoint_of_model: bool,
    already_retried: bool,
    max_retry_after_s: float,
    rng: random.Random,
) -> Decision:
    """`error` is the mapped upstream error for kind "status" (and "unparseable" if any)."""
    if error is not None and error.error_type == "content_policy":
        return STOP  # never routed around: another provider would only launder the refusal
    status = _upstream_status(error) if kind == "status" else None
    if status in REQUEST_FAULT_STATUSES:
        return NEXT_MODEL  # the request's fault; only a different model may accept it
    if not is_last_endpoint_of_model:
        return NEXT_ENDPOINT
    if not already_retried:
        if kind == "reset" or status in TRANSIENT_STATUSES:
            return Decision(Action.RETRY_SAME, rng.uniform(*BACKOFF_S))
        wait = error.retry_after if error is not None and status == 429 else None
        if wait is not None and wait <= max_retry_after_s:
            # a "Retry-After: 0" still waits the backoff floor: no tight loop
            return Decision(Action.RETRY_SAME, max(wait, BACKOFF_S[0]))
    return NEXT_MODEL


@dataclass(frozen=True, slots=True)
class AttemptError:
    """One failed attempt, as the executor saw it."""

    provider: str  # slug
    provider_name: str  # display name
    kind: FailureKind
    error: UpstreamError | None = None
    model: str | None = None

    def summary(self) -> tuple[int, str, str]:
        """(client status, error_type, message) for this failure."""
        if self.error is not None:
            return self.error.status, self.error.error_type, self.error.message
        name = self.provider_name
        return {
            "timeout": (408, "timeout", f"{name} timed out"),
            "connect": (502, "provider_unavailable", f"could not connect to {name}"),
            "reset": (502, "provider_unavailable", f"{name} closed the connection"),
            "unparseable": (502, "bad_gateway", f"{name} sent an answer that could not be parsed"),
        }.get(self.kind, (502, "bad_gateway", f"{name} returned an error"))


def final_error(attempt_errors: Sequence[AttemptError]) -> GatewayError:
    """The client's error once every attempt failed: the last failure decides the status."""
    if not attempt_errors:
        return GatewayError(503, "no endpoint could be tried", "provider_unavailable")
    last = attempt_errors[-1]
    status, error_type, message = last.summary()
    if status not in (429, 408, 403, *REQUEST_FAULT_STATUSES):
        status = 502  # e.g. the provider refused our credential (401): not the client's fault
    attempts: list[dict[str, Any]] = []
    for a in attempt_errors:
        a_status, a_type, a_message = a.summary()
        entry = {
            "provider": a.provider,
            "provider_name": a.provider_name,
            "status": a_status,
            "error_type": a_type,
            "message": a_message,
        }
        if a.model:
            entry["model"] = a.model
        attempts.append(entry)
    metadata: dict[str, Any] = {
        "provider": last.provider,
        "provider_name": last.provider_name,
        "raw": last.error.raw if last.error is not None else None,
        "attempts": attempts,
    }
    if last.error is not None and last.error.upstream_status is not None:
        metadata["provider_code"] = last.error.upstream_status
    headers: dict[str, str] = {}
    if status == 429 and last.error is not None and last.error.retry_after is not None:
        headers["Retry-After"] = str(math.ceil(last.error.retry_after))
    return GatewayError(status, message, error_type, metadata, headers)


def _upstream_status(error: UpstreamError | None) -> int:
    if error is None:
        return 502  # a status failure without details: treat as a bad gateway answer
    return error.upstream_status or error.status
