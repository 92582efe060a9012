"""What happened to one request: the attempts, the answer's metadata, and what it cost."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from switchboard.billing.pricing import Cost
from switchboard.errors import GatewayError
from switchboard.routing.auto import AutoChoice
from switchboard.routing.planner import Attempt


@dataclass(slots=True)
class AttemptRecord:
    provider: str
    provider_name: str
    model: str
    endpoint_id: str
    status: int
    latency_ms: int
    error_type: str | None = None
    message: str | None = None
    tokens: tuple[int, int] | None = None  # (prompt, completion) it contributed, if it served

    def as_dict(self) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if self.tokens is not None:
            extra = {"tokens_prompt": self.tokens[0], "tokens_completion": self.tokens[1]}
        return {**extra,
            "provider": self.provider,
            "provider_name": self.provider_name,
            "model_permaslug": self.model,
            "endpoint_id": self.endpoint_id,
            "status": self.status,
            "latency": self.latency_ms,
            "error_type": self.error_type,
            "message": self.message,
            "is_byok": False,
        }


@dataclass(slots=True)
class Segment:
    """The part of a continued answer that one upstream produced, and what it cost."""

    attempt: Attempt
    usage: dict[str, Any]
    cost: Cost


@dataclass(slots=True)
class Outcome:
    gen_id: str
    started: float  # time.monotonic() at request start
    created: int  # unix seconds
    streamed: bool
    attempts: list[AttemptRecord] = field(default_factory=list)
    served: Attempt | None = None
    upstream_id: str | None = None
    usage: dict[str, Any] | None = None
    usage_estimated: bool = False
    finish_reason: str | None = None
    native_finish_reason: str | None = None
    completion_text: str = ""
    cancelled: bool = False
    first_token_ms: int | None = None
    generation_ms: int | None = None
    cost: Cost | None = None
    images: int = 0
    web_results: list[Any] = field(default_factory=list)  # what the web plugin found
    annotated: bool = False
    error: GatewayError | None = None
    finished_choices: set[int] = field(default_factory=set)  # choice indexes already finished
    usage_anomalies: list[str] = field(default_factory=list)  # what clamping cut
    # a stream continued after a break: the earlier upstreams' parts, in order
    segments: list[Segment] = field(default_factory=list)
    segment_text: str = ""  # what the current upstream produced (all of it, unless continued)
    prefill_text: str = ""  # the assistant prefix the current upstream was sent
    auto_choice: AutoChoice | None = None  # openrouter/auto's pick and reason, for the record
