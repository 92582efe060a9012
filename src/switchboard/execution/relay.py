"""The streaming relay: find a working upstream behind keep-alives, then pass chunks on.

Chunks are held back until the first real content, so a fallback before that point is
invisible to the client; after it, a failure ends the stream with an error event and no
`[DONE]`. A client that leaves cancels the upstream read, and is charged for what was
generated.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from switchboard.dialects.base import UpstreamError
from switchboard.errors import GatewayError
from switchboard.execution.accounting import Accountant, RequestMeta
from switchboard.execution.executor import _failure
from switchboard.execution.outcome import Outcome
from switchboard.execution.shaping import chunk_to_text, usage_body
from switchboard.plugins.web_search import citations
from switchboard.routing.planner import Attempt, Plan
from switchboard.web import StreamResponse, error_response, sse, wait_disconnect

if TYPE_CHECKING:
    from switchboard.app import Services

KEEPALIVE = b": OPENROUTER PROCESSING\n\n"


def has_content(chunk: dict[str, Any]) -> bool:
    for c in chunk.get("choices") or ():
        d = c.get("delta") or {}
        if d.get("content") or d.get("tool_calls") or d.get("reasoning") or c.get("finish_reason"):
            return True
    return False


class StreamRelay:
    def __init__(self, svc: Services, accounts: Accountant) -> None:
        self.svc = svc
        self.accounts = accounts

    async def start(self, plan: Plan, outcome: Outcome, meta: RequestMeta,
                      receive: Any) -> Any:
        executor = self.svc.executor

        async def open_attempt(attempt: Attempt, _t0: float) -> tuple[Any, list[dict[str, Any]]]:
            it: Any = await executor.open_stream(attempt, meta.body)
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

        task = asyncio.ensure_future(executor.walk(plan, outcome, open_attempt))
        # until the response starts, nothing else notices a client that leaves
        watcher = asyncio.ensure_future(wait_disconnect(receive))
        try:
            done, _ = await asyncio.wait({task, watcher}, timeout=self.svc.keepalive_first_s,
                                         return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            task.cancel()
            watcher.cancel()
            raise
        if watcher in done and not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            outcome.cancelled = True
            self.accounts.settle(outcome, meta)
            raise asyncio.CancelledError
        done.discard(watcher)
        if done and task.exception() is not None:
            watcher.cancel()
            exc = task.exception()
            if isinstance(exc, GatewayError):
                outcome.error = exc
            self.accounts.settle(outcome, meta)
            if isinstance(exc, GatewayError):
                return error_response(exc)
            raise exc  # type: ignore[misc]
        headers = [(b"x-generation-id", outcome.gen_id.encode())]
        if done:
            served = outcome.served
            assert served is not None
            headers += [(b"openrouter-provider", served.provider.name.encode()),
                        (b"openrouter-model", served.model.id.encode())]
        # the same watcher keeps guarding the stream: one task fewer per request
        return StreamResponse(self._relay(task, outcome, meta), headers, disconnect=watcher)

    async def _relay(self, task: asyncio.Future[Any], outcome: Outcome,
                     meta: RequestMeta) -> AsyncIterator[bytes]:
        svc = self.svc
        it: Any = None
        try:
            # the response starts only after keepalive_first_s without an answer: say so now,
            # then every keepalive_every_s until the upstream answers
            while not task.done():
                yield KEEPALIVE
                await asyncio.wait({task}, timeout=svc.keepalive_every_s)
            try:
                it, buffered = task.result()
            except GatewayError as exc:
                outcome.error = exc
                yield sse(self._error_chunk(outcome, exc, None))
                return
            attempt = outcome.served
            assert attempt is not None
            model_id, provider_name = attempt.model.id, attempt.provider.display_name
            for chunk in buffered:
                out = self._track(chunk, outcome, model_id, provider_name, meta)
                if out is not None:
                    yield out
            try:
                async for chunk in it:
                    out = self._track(chunk, outcome, model_id, provider_name, meta)
                    if out is not None:
                        yield out
            except Exception as exc:
                err = _failure(exc).error if not isinstance(exc, UpstreamError) else exc
                outcome.finish_reason = "error"
                outcome.cancelled = False
                gerr = GatewayError(err.status, err.message, err.error_type,
                                    {"provider": attempt.provider.name,
                                     "provider_name": attempt.provider.display_name,
                                     "raw": err.raw})
                self.accounts.finish_cost(outcome, meta)
                yield sse(self._error_chunk(outcome, gerr, attempt))
                return
            self.accounts.finish_cost(outcome, meta)
            await self.accounts.record_stream_health(attempt, outcome)
            final = {"id": outcome.gen_id, "object": "chat.completion.chunk",
                     "created": outcome.created, "model": model_id, "provider": provider_name,
                     "choices": [],
                     "usage": usage_body(outcome.usage, outcome.cost)}
            if meta.legacy:
                final = chunk_to_text(final)
            yield sse(final)
            yield b"data: [DONE]\n\n"
        except (asyncio.CancelledError, GeneratorExit):
            outcome.cancelled = True
            if not task.done():
                task.cancel()
            if outcome.served is not None and outcome.cost is None:
                self.accounts.finish_cost(outcome, meta)
            raise
        finally:
            if it is not None:
                with contextlib.suppress(BaseException):
                    await it.aclose()
            self.accounts.settle(outcome, meta)

    def _track(self, chunk: dict[str, Any], outcome: Outcome, model_id: str,
               provider_name: str, meta: RequestMeta) -> bytes | None:
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
            if d.get("content") and isinstance(d["content"], str):
                if outcome.first_token_ms is None:
                    outcome.first_token_ms = int((time.monotonic() - outcome.started) * 1000)
                outcome.completion_text += d["content"]
            for call in d.get("tool_calls") or ():
                outcome.completion_text += (call.get("function") or {}).get("arguments") or ""
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
        chunk["model"] = model_id
        chunk["provider"] = provider_name
        if "system_fingerprint" in chunk and chunk["system_fingerprint"] is None:
            del chunk["system_fingerprint"]  # the chunk schema allows a string or nothing
        if meta.legacy:
            chunk = chunk_to_text(chunk)
        return sse(chunk)

    def _error_chunk(self, outcome: Outcome, err: GatewayError,
                     attempt: Attempt | None) -> dict[str, Any]:
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
