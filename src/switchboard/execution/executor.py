"""Walks a routing plan: calls upstreams, applies timeouts, retries and fallbacks.

Fallback is decided by the pure retry policy; this module only does the I/O.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator
from typing import Any

from switchboard.catalog.types import ProviderInfo
from switchboard.dialects.base import UpstreamError
from switchboard.dialects.registry import Dialects
from switchboard.errors import GatewayError
from switchboard.execution.http1 import Response, UpstreamConnectionError
from switchboard.execution.outcome import AttemptRecord, Outcome
from switchboard.execution.upstream import UpstreamClient
from switchboard.observability.observer import Observer
from switchboard.routing import retry_policy
from switchboard.routing.health import HealthStore
from switchboard.routing.planner import Attempt, Plan
from switchboard.routing.retry_policy import Action, FailureKind

log = logging.getLogger("switchboard.executor")

# Failures that say nothing about the endpoint's health (the request itself was wrong).
_REQUEST_FAULTS = frozenset({400, 404, 413, 422})

# What an upstream can do to an attempt: answer an error, time out, drop or refuse the
# connection. Anything else raised during an attempt is a bug of ours.
UPSTREAM_FAILURES: tuple[type[BaseException], ...] = (
    UpstreamError, TimeoutError, ConnectionError, EOFError, OSError)


class InternalError(GatewayError):
    """Our own failure during an attempt: a 500 that leaves the provider's health alone."""

    def __init__(self) -> None:
        super().__init__(500, "internal error while handling the request", "internal_error")


def unparseable(provider_name: str, exc: BaseException) -> UpstreamError:
    """An upstream answer the dialect could not read: the provider's fault, logged."""
    log.warning("unparseable answer from %s: %r", provider_name, exc)
    return UpstreamError(502, f"{provider_name} sent an answer that could not be parsed",
                         "bad_gateway")


def upstream_body(body: dict[str, Any], dialect: str) -> dict[str, Any]:
    """What goes upstream: the OpenAI request without OpenRouter's routing fields."""
    out = {k: v for k, v in body.items() if k not in _ROUTER_FIELDS}
    if dialect != "simulator":
        out.pop("simulate", None)
    if dialect in ("openai", "azure"):
        reasoning = out.pop("reasoning", None)
        out.pop("include_reasoning", None)
        if (
            isinstance(reasoning, dict)
            and reasoning.get("effort")
            and "reasoning_effort" not in out
        ):
            out["reasoning_effort"] = reasoning["effort"]
    return out


_ROUTER_FIELDS = frozenset({"provider", "models", "route", "transforms", "plugins", "usage",
                            "debug", "session_id", "trace", "cache_control"})


class _AttemptFailed(Exception):
    def __init__(self, error: UpstreamError, kind: FailureKind) -> None:
        self.error = error
        self.kind = kind


def classify(exc: BaseException) -> _AttemptFailed:
    if isinstance(exc, UpstreamError):
        parsed_status = exc.upstream_status is not None or exc.status != 502
        return _AttemptFailed(exc, "status" if parsed_status else "unparseable")
    if isinstance(exc, TimeoutError):
        return _AttemptFailed(UpstreamError(408, "upstream timed out", "timeout"), "timeout")
    if isinstance(exc, UpstreamConnectionError):
        kind: FailureKind = "reset" if exc.kind == "reset" else "connect"
        return _AttemptFailed(UpstreamError(502, str(exc), "provider_unavailable"), kind)
    if isinstance(exc, ConnectionResetError):
        return _AttemptFailed(
            UpstreamError(502, f"upstream connection reset: {exc}", "provider_unavailable"), "reset"
        )
    return _AttemptFailed(
        UpstreamError(502, f"could not reach upstream: {exc}", "provider_unavailable"), "connect"
    )


class Executor:
    observer: Observer | None = None  # log lines, metrics and spans per attempt (the app sets it)

    def __init__(
        self,
        client: UpstreamClient,
        dialects: Dialects,
        health: HealthStore,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self.dialects = dialects
        self.health = health
        self.rng = rng or random.Random()
        self._vertex_credentials: dict[str, Any] = {}  # provider name -> cached token source

    async def _with_token(self, provider: ProviderInfo) -> ProviderInfo:
        """Vertex without a static token: a cached OAuth token, refreshed off the event loop."""
        if provider.api != "vertex" or provider.api_key or provider.options.get("access_token"):
            return provider
        from switchboard.dialects.vertex import VertexCredentials

        creds = self._vertex_credentials.get(provider.name)
        if creds is None:
            creds = VertexCredentials.for_provider(provider)
            self._vertex_credentials[provider.name] = creds
        return await asyncio.to_thread(creds.apply, provider)

    # -- walking the plan ------------------------------------------------------------

    def _record(
        self,
        outcome: Outcome,
        attempt: Attempt,
        status: int,
        t0: float,
        error: UpstreamError | None = None,
    ) -> None:
        outcome.attempts.append(
            AttemptRecord(
                provider=attempt.provider.name,
                provider_name=attempt.provider.display_name,
                model=attempt.model.id,
                endpoint_id=attempt.endpoint.key,
                status=status,
                latency_ms=int((time.monotonic() - t0) * 1000),
                error_type=error.error_type if error else None,
                message=error.message if error else None,
            )
        )

    record_attempt = _record

    async def note_stream_failure(self, attempt: Attempt, error: Any) -> None:
        """A stream that broke after content: the provider's failure, for its health."""
        upstream = UpstreamError(error.status, error.message, error.error_type or "")
        await self._note_failure(attempt, _AttemptFailed(upstream, "reset"))

    async def _note_failure(self, attempt: Attempt, failed: _AttemptFailed) -> None:
        if failed.error.upstream_status in _REQUEST_FAULTS or failed.error.error_type in (
            "content_policy",
            "context_length_exceeded",
        ):
            return
        p = attempt.provider
        await self.health.record_failure(
            attempt.endpoint.key, p.circuit_failures, p.circuit_cooldown_s
        )

    def _decide(
        self, plan: Plan, index: int, failed: _AttemptFailed, retried: bool
    ) -> retry_policy.Decision:
        attempts = plan.attempts
        current = attempts[index]
        last_of_model = (
            index + 1 >= len(attempts) or attempts[index + 1].model.id != current.model.id
        )
        return retry_policy.decide(
            failed.error,
            failed.kind,
            last_of_model,
            retried,  # type: ignore[arg-type]
            current.provider.max_retry_after_s,
            self.rng,
        )

    async def walk(self, plan: Plan, outcome: Outcome, call: Any) -> Any:
        """Run `call(attempt)` over the plan until one succeeds; raise the final error."""
        errors: list[retry_policy.AttemptError] = []
        index, retried = 0, False
        attempts = plan.attempts
        obs, failed_on = self.observer, None
        while index < len(attempts):
            attempt = attempts[index]
            if not await self.health.allow_probe(attempt.endpoint.key):
                index += 1  # circuit open and another request holds the probe
                continue
            if failed_on is not None and obs is not None and not retried:
                obs.fallback(failed_on, attempt.provider.name, attempt.model.id)
            span = obs.attempt_started(attempt.provider, attempt.endpoint.model) if obs else None
            t0 = time.monotonic()
            try:
                result = await call(attempt, t0)
            except (asyncio.CancelledError, GatewayError):
                raise
            except UPSTREAM_FAILURES as exc:
                failed = classify(exc)
                self._record(
                    outcome,
                    attempt,
                    failed.error.upstream_status or failed.error.status,
                    t0,
                    failed.error,
                )
                failed.error.metadata.setdefault("provider", attempt.provider.name)
                errors.append(
                    retry_policy.AttemptError(
                        attempt.provider.name,
                        attempt.provider.display_name,
                        failed.kind,
                        failed.error,
                        attempt.model.id,
                    )
                )  # type: ignore[arg-type]
                if obs is not None:
                    obs.attempt_failed(span, attempt.provider.name, attempt.endpoint.key,
                                       failed.kind, failed.error.upstream_status,
                                       failed.error.error_type, int((time.monotonic() - t0) * 1000))
                failed_on = attempt.provider.name
                await self._note_failure(attempt, failed)
                decision = self._decide(plan, index, failed, retried)
                if decision.action is Action.RETRY_SAME:
                    retried = True
                    await asyncio.sleep(decision.delay_s)
                    continue
                retried = False
                if decision.action is Action.STOP:
                    break
                if decision.action is Action.NEXT_MODEL:
                    model_id = attempt.model.id
                    while index < len(attempts) and attempts[index].model.id == model_id:
                        index += 1
                    continue
                index += 1
                continue
            except Exception as exc:
                log.exception("internal error during an attempt on %s (model %s)",
                              attempt.provider.name, attempt.model.id)
                raise InternalError() from exc
            self._record(outcome, attempt, 200, t0)
            if obs is not None:
                obs.attempt_succeeded(span, attempt.provider.name)
            outcome.served = attempt
            return result
        raise retry_policy.final_error(errors)

    # -- one attempt -----------------------------------------------------------------

    async def complete_once(self, attempt: Attempt, body: dict[str, Any]) -> dict[str, Any]:
        provider, endpoint = attempt.provider, attempt.endpoint
        dialect = self.dialects.get(provider.api)
        fwd = upstream_body(body, provider.api)
        t0 = time.monotonic()
        # the headers of a non-streaming answer come with its end: one deadline for the
        # whole call, never the first-token timeout (which would cut long answers)
        deadline = attempt.model.timeout_s or provider.timeouts.total
        if provider.api == "simulator":
            async with asyncio.timeout(deadline):
                result: dict[str, Any] = await dialect.complete(endpoint.model, fwd)
        else:
            provider = await self._with_token(provider)
            req = dialect.build_request(provider, endpoint.model, fwd, False)
            if self.observer is not None:
                self.observer.upstream_headers(provider.api, req.headers)
            async with asyncio.timeout(deadline):
                resp = await self.client.send(req, provider.timeouts.connect)
                try:
                    data = await resp.read()
                finally:
                    resp.release()
            if resp.status != 200:
                raise _parsed(provider.display_name, dialect.parse_error, resp.status, data,
                              _headers(resp))
            result = _parsed(provider.display_name, dialect.parse_response, data)
        elapsed = time.monotonic() - t0
        completion = int((result.get("usage") or {}).get("completion_tokens") or 0)
        await self.health.record_success(
            endpoint.key, elapsed * 1000, completion / elapsed if elapsed > 0 else 0.0
        )
        return result

    async def open_stream(
        self, attempt: Attempt, body: dict[str, Any]
    ) -> AsyncIterator[dict[str, Any]]:
        """Translated chunks of one upstream stream; raises before the first chunk on failure."""
        provider, endpoint = attempt.provider, attempt.endpoint
        dialect = self.dialects.get(provider.api)
        fwd = upstream_body(body, provider.api)
        if provider.api == "simulator":
            return dialect.stream(endpoint.model, fwd)  # type: ignore[no-any-return]
        req = dialect.build_request(await self._with_token(provider), endpoint.model, fwd, True)
        if self.observer is not None:
            self.observer.upstream_headers(provider.api, req.headers)
        timeouts = provider.timeouts
        first_deadline = time.monotonic() + timeouts.first_token
        async with asyncio.timeout(timeouts.first_token):
            resp = await self.client.send(req, timeouts.connect)
            if resp.status != 200:
                try:
                    data = await resp.read()
                finally:
                    resp.release()
                raise _parsed(provider.display_name, dialect.parse_error, resp.status, data,
                              _headers(resp))
            if "application/json" in resp.headers.get("content-type", ""):
                # a whole answer (the upstream ignored `stream: true`) or a JSON-array stream
                try:
                    data = await resp.read()
                finally:
                    resp.release()
                try:
                    return _as_chunks(dialect.parse_response(data))
                except UpstreamError:
                    translator = dialect.stream_translator()
                    chunks = _parsed(provider.display_name, lambda d: translator.feed(d)
                                     + translator.close(), data)
                    return _replay(chunks)
                except Exception as exc:
                    raise unparseable(provider.display_name, exc) from exc
        return _read_stream(resp, dialect.stream_translator(), provider.display_name,
                            first_deadline, timeouts.idle)


def _parsed(provider_name: str, parse: Any, *args: Any) -> Any:
    """Run a dialect's parser on upstream bytes: a crash there means bytes we cannot read."""
    try:
        return parse(*args)
    except UpstreamError:
        raise
    except Exception as exc:
        raise unparseable(provider_name, exc) from exc


def has_content(chunk: dict[str, Any]) -> bool:
    for c in chunk.get("choices") or ():
        d = c.get("delta") or {}
        if d.get("content") or d.get("tool_calls") or d.get("reasoning") or c.get("finish_reason"):
            return True
    return False


async def _read_stream(
    resp: Response, translator: Any, provider_name: str, first_deadline: float,
    idle_timeout: float,
) -> AsyncIterator[dict[str, Any]]:
    """Chunks until the upstream ends. Until the first content chunk the deadline is fixed
    (keep-alive comments do not extend it); after it, chunks must come within `idle_timeout`
    of each other."""
    try:
        deadline = first_deadline
        content = False
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            async with asyncio.timeout(remaining):
                data = await resp.readany()
            if not data:
                break
            for chunk in _parsed(provider_name, translator.feed, data):
                content = content or has_content(chunk)
                if content:
                    deadline = time.monotonic() + idle_timeout
                yield chunk
            failure = getattr(translator, "failure", None)
            if failure is not None:
                raise failure  # an error event after good chunks: those went out first
        for chunk in _parsed(provider_name, translator.close):
            yield chunk
    finally:
        resp.close()  # on cancellation this drops the connection: the upstream stops generating


async def _replay(chunks: list[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
    for chunk in chunks:
        yield chunk


async def _as_chunks(result: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    base = {k: result.get(k) for k in ("id", "created", "model")}
    base["object"] = "chat.completion.chunk"
    for choice in result.get("choices") or ():
        message = dict(choice.get("message") or {})
        calls = message.pop("tool_calls", None)
        delta = {k: v for k, v in message.items() if v is not None}
        if calls:
            delta["tool_calls"] = [{"index": i, **c} for i, c in enumerate(calls)]
        idx = choice.get("index", 0)
        yield {**base, "choices": [{"index": idx, "delta": delta, "finish_reason": None}]}
        yield {**base, "choices": [{"index": idx, "delta": {},
                                    "finish_reason": choice.get("finish_reason"),
                                    "native_finish_reason": choice.get("native_finish_reason")}]}
    if result.get("usage"):
        yield {**base, "choices": [], "usage": result["usage"]}


def _headers(resp: Response) -> dict[str, str]:
    return resp.headers
