"""A streamed chat request: find a working upstream behind keep-alives, then relay chunks.

Chunks are held back until the first real content, so a fallback before that point is
invisible to the client; after it, a failure ends the stream with an in-band error event.
A client that leaves cancels the upstream read and is charged for what was generated.
Whatever happens, the stream's exit settles the request once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any

from switchboard.dialects.base import UpstreamError
from switchboard.errors import ClientGone, GatewayError
from switchboard.execution.executor import UPSTREAM_FAILURES, classify, has_content
from switchboard.execution.shaping import chunk_to_text, usage_body
from switchboard.plugins.web_search import citations
from switchboard.routing.planner import Attempt, Plan
from switchboard.tokens import text_tokens

if TYPE_CHECKING:
    from switchboard.execution.service import ChatResult, ChatService, RequestLife

log = logging.getLogger("switchboard.stream")

Event = dict[str, Any] | None


async def _wait_disconnect(receive: Any) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def open_stream_run(svc: ChatService, plan: Plan, life: RequestLife,
                          receive: Any) -> ChatResult:
    """Start walking the plan; answer with a plain error if it fails within the first
    keep-alive interval, else with the stream (which then owns the settlement)."""
    from switchboard.execution.service import ChatResult

    executor = svc.executor
    body = life.meta.body

    async def open_attempt(attempt: Attempt, _t0: float) -> tuple[Any, list[dict[str, Any]]]:
        it: Any = await executor.open_stream(attempt, body)
        buffered: list[dict[str, Any]] = []
        try:
            # hold back chunks until real content: until then, fallback is still invisible
            async for chunk in it:
                buffered.append(chunk)
                if has_content(chunk):
                    break
        except BaseException:
            with contextlib.suppress(Exception):
                await it.aclose()
            raise
        if not buffered:
            # a 200 with nothing we could read (not SSE, or empty): a bad answer, fall back
            raise UpstreamError(502, f"{attempt.provider.display_name} answered the stream "
                                "with nothing parseable", "bad_gateway")
        return it, buffered

    outcome = life.outcome
    task = asyncio.ensure_future(executor.walk(plan, outcome, open_attempt))
    watcher = asyncio.ensure_future(_wait_disconnect(receive)) if receive else None
    waiting = {task, watcher} if watcher else {task}
    try:
        done, _ = await asyncio.wait(waiting, timeout=svc.keepalive_first_s,
                                     return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        task.cancel()
        if watcher:
            watcher.cancel()
        raise
    if watcher is not None and watcher in done and not task.done():
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        outcome.cancelled = True
        raise ClientGone  # the caller's exit path settles
    if task.done() and task.exception() is not None:
        if watcher:
            watcher.cancel()
        raise task.exception()  # type: ignore[misc]
    headers = [(b"x-generation-id", outcome.gen_id.encode())]
    if task.done():
        served = outcome.served
        assert served is not None
        headers += [(b"openrouter-provider", served.provider.name.encode()),
                    (b"openrouter-model", served.model.id.encode())]
    # the same watcher goes on guarding the stream in the HTTP layer: one task fewer
    return ChatResult(headers, events=StreamRun(svc, task, life), disconnect=watcher)


class StreamRun:
    """The events of one stream; closing it (or the client leaving) settles the request."""

    def __init__(self, svc: ChatService, task: asyncio.Future[Any], life: RequestLife) -> None:
        self.svc = svc
        self.task = task
        self.life = life
        self._gen = self._events()
        self._tokens = 0  # completion tokens seen so far, estimated
        self._cap = 0

    def __aiter__(self) -> StreamRun:
        return self

    async def __anext__(self) -> Event:
        return await self._gen.__anext__()

    async def aclose(self) -> None:
        try:
            await self._gen.aclose()
        finally:
            if not self.task.done():
                self.task.cancel()
            self.life.settle()  # also when the stream never started

    async def _events(self) -> AsyncGenerator[Event, None]:
        svc, task, life = self.svc, self.task, self.life
        outcome, meta = life.outcome, life.meta
        it: Any = None
        try:
            # the response started after keepalive_first_s without an answer: say so now,
            # then every keepalive_every_s until the upstream answers
            while not task.done():
                yield None
                await asyncio.wait({task}, timeout=svc.keepalive_every_s)
            try:
                it, buffered = task.result()
            except GatewayError as exc:
                outcome.error = exc
                yield self._error_chunk(exc, None)
                return
            attempt = outcome.served
            assert attempt is not None
            # our count is an estimate: stop only well past the cap, an upstream that ignores it
            cap = life.bounds.output_cap(attempt)
            self._cap = cap + cap // 2 + 64
            failure: GatewayError | None = None
            over_budget = False
            try:
                for chunk in buffered:
                    out = self._track(chunk, attempt)
                    if out is not None:
                        yield out
                async for chunk in it:
                    out = self._track(chunk, attempt)
                    if out is not None:
                        yield out
                    if self._tokens > self._cap:
                        # the upstream ignores the cap it was sent: stop at what was held
                        log.warning("%s streamed past its output cap of %d tokens; stopped",
                                    attempt.provider.name, self._cap)
                        over_budget = True
                        break
            except UPSTREAM_FAILURES as exc:
                err = exc if isinstance(exc, UpstreamError) else classify(exc).error
                failure = GatewayError(err.status, err.message, err.error_type,
                                       {"provider": attempt.provider.name,
                                        "provider_name": attempt.provider.display_name,
                                        "raw": err.raw})
            except Exception:
                log.exception("internal error while relaying a stream from %s",
                              attempt.provider.name)
                failure = GatewayError(500, "internal error while relaying the stream",
                                       "internal_error")
            if failure is None and not over_budget and not outcome.finished_choices:
                failure = GatewayError(
                    502, f"{attempt.provider.display_name} ended the stream without a finish "
                    "reason: the answer may be incomplete", "provider_unavailable",
                    {"provider": attempt.provider.name,
                     "provider_name": attempt.provider.display_name})
            if failure is not None:
                outcome.finish_reason = "error"
                outcome.cancelled = False
                outcome.error = failure
                life.finish_cost()
                yield self._error_chunk(failure, attempt)
                return
            if over_budget:
                outcome.finish_reason = outcome.native_finish_reason = "length"
                yield self._chunk(attempt, [{"index": 0, "delta": {}, "finish_reason": "length",
                                             "native_finish_reason": "length"}])
            life.finish_cost()
            await svc.accountant.record_stream_health(attempt, outcome)
            final = self._chunk(attempt, [])
            final["usage"] = usage_body(outcome.usage, outcome.cost)
            yield chunk_to_text(final) if meta.legacy else final
        except (asyncio.CancelledError, GeneratorExit):
            outcome.cancelled = True
            raise
        finally:
            if not task.done():
                task.cancel()
            if it is not None:
                with contextlib.suppress(BaseException):
                    await it.aclose()
            life.settle()

    def _chunk(self, attempt: Attempt, choices: list[dict[str, Any]]) -> dict[str, Any]:
        outcome = self.life.outcome
        return {"id": outcome.gen_id, "object": "chat.completion.chunk",
                "created": outcome.created, "model": attempt.model.id,
                "provider": attempt.provider.display_name, "choices": choices}

    def _track(self, chunk: dict[str, Any], attempt: Attempt) -> dict[str, Any] | None:
        outcome = self.life.outcome
        usage = chunk.pop("usage", None)
        if usage:
            outcome.usage = usage
        choices = chunk.get("choices")
        if not choices:
            return None  # usage-only chunks: we send our own, with the cost, at the end
        if outcome.upstream_id is None:
            outcome.upstream_id = chunk.get("id")
        kept = []
        for c in choices:
            d = c.get("delta") or {}
            has_delta = bool(d.get("content") or d.get("tool_calls") or d.get("reasoning"))
            index = c.get("index", 0)
            if c.get("finish_reason") and index in outcome.finished_choices and not has_delta:
                continue  # some upstreams repeat the finish on their usage chunk: send it once
            kept.append(c)
            content = d.get("content")
            if content and isinstance(content, str):
                if outcome.first_token_ms is None:
                    outcome.first_token_ms = int((time.monotonic() - outcome.started) * 1000)
                outcome.completion_text += content
                self._tokens += text_tokens(content)
            reasoning = d.get("reasoning")
            if reasoning and isinstance(reasoning, str):
                self._tokens += text_tokens(reasoning)
            for call in d.get("tool_calls") or ():
                args = (call.get("function") or {}).get("arguments") or ""
                if isinstance(args, str):
                    outcome.completion_text += args
                    self._tokens += text_tokens(args)
            if c.get("finish_reason"):
                if outcome.web_results and not outcome.annotated:
                    outcome.annotated = True
                    c["delta"] = {**d, "annotations": citations(outcome.web_results)}
                outcome.finished_choices.add(index)
                outcome.finish_reason = c["finish_reason"]
                outcome.native_finish_reason = c.get("native_finish_reason") or c["finish_reason"]
            c.setdefault("native_finish_reason", c.get("finish_reason"))
        if not kept:
            return None
        chunk["choices"] = kept
        chunk["id"] = outcome.gen_id
        chunk["object"] = "chat.completion.chunk"
        chunk["created"] = outcome.created
        chunk["model"] = attempt.model.id
        chunk["provider"] = attempt.provider.display_name
        if "system_fingerprint" in chunk and chunk["system_fingerprint"] is None:
            del chunk["system_fingerprint"]  # the chunk schema allows a string or nothing
        return chunk_to_text(chunk) if self.life.meta.legacy else chunk

    def _error_chunk(self, err: GatewayError, attempt: Attempt | None) -> dict[str, Any]:
        outcome = self.life.outcome
        meta = dict(err.metadata)
        meta.setdefault("error_type", err.error_type or "provider_error")
        return {
            "id": outcome.gen_id, "object": "chat.completion.chunk", "created": outcome.created,
            "model": attempt.model.id if attempt else "",
            "provider": attempt.provider.display_name if attempt else None,
            "error": {"code": err.status, "message": err.message, "metadata": meta},
            "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error",
                         "native_finish_reason": "error"}],
        }
