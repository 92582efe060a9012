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
from switchboard.execution.holds import fit_output
from switchboard.execution.outcome import Segment
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


async def open_until_content(executor: Any, attempt: Attempt,
                             body: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]]:
    """Open an upstream stream and hold back its chunks until real content: until then a
    failure is still invisible to the client and falls back."""
    it: Any = await executor.open_stream(attempt, body)
    buffered: list[dict[str, Any]] = []
    try:
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


async def open_stream_run(svc: ChatService, plan: Plan, life: RequestLife,
                          receive: Any) -> ChatResult:
    """Start walking the plan; answer with a plain error if it fails within the first
    keep-alive interval, else with the stream (which then owns the settlement)."""
    from switchboard.execution.service import ChatResult

    executor = svc.executor
    body = life.meta.body

    async def open_attempt(attempt: Attempt, _t0: float) -> tuple[Any, list[dict[str, Any]]]:
        return await open_until_content(executor, attempt, body)

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
        self._ending = "finished"  # how the last upstream relayed ended
        self._failure: GatewayError | None = None
        self._sent = ""  # choice 0's text the client has received
        self._skip = ""  # a restarted continuation's text still to match against _sent
        self._trim = ""  # whitespace cut off a prefill, which the continuation may repeat
        self._prefill_trimmed = ""
        self._calls: dict[int, dict[str, Any]] = {}  # tool calls held back until whole
        self._current: AsyncGenerator[dict[str, Any], None] | None = None  # the live relay

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
            self._current = self._relay(it, buffered, attempt)
            async for out in self._current:
                yield out
            if self._ending == "broken" and self._can_continue():
                cause = self._failure
                assert cause is not None
                async for out in self._continue(attempt, cause):
                    yield out
                attempt = outcome.served
                assert attempt is not None
                if self._ending != "finished":
                    self._failure = cause  # the original cause, never the continuation's
                    self._ending = "broken"
            if self._ending == "broken":
                failure = self._failure
                assert failure is not None
                outcome.finish_reason = "error"
                outcome.cancelled = False
                outcome.error = failure
                life.finish_cost()
                yield self._error_chunk(failure, attempt)
                return
            if self._ending == "over_budget":
                outcome.finish_reason = outcome.native_finish_reason = "length"
                yield self._chunk(attempt, [{"index": 0, "delta": {}, "finish_reason": "length",
                                             "native_finish_reason": "length"}])
            life.finish_cost()
            self._note_final_tokens()
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
            if self._current is not None:
                # closing the relay drops the upstream connection: it stops generating
                with contextlib.suppress(BaseException):
                    await self._current.aclose()
            life.settle()

    async def _relay(self, it: Any, buffered: list[dict[str, Any]],
                     attempt: Attempt) -> AsyncGenerator[dict[str, Any], None]:
        """Pass one upstream's chunks on; `_ending` then says how it ended: finished,
        over_budget, diverged (a restarted answer that did not repeat what was sent) or
        broken (`_failure` says why)."""
        outcome = self.life.outcome
        # our count is an estimate: stop only well past the cap, an upstream that ignores it
        cap = self.life.bounds.output_cap(attempt)
        self._cap = self._tokens + cap + cap // 2 + 64
        self._ending, self._failure = "finished", None
        try:
            for chunk in buffered:
                out = self._track(chunk, attempt)
                if out is not None:
                    yield out
            if self._ending == "diverged":
                return
            async for chunk in it:
                out = self._track(chunk, attempt)
                if out is not None:
                    yield out
                if self._ending == "diverged":
                    return
                if self._tokens > self._cap:
                    # the upstream ignores the cap it was sent: stop at what was held
                    log.warning("%s streamed past its output cap; stopped", attempt.provider.name)
                    self._ending = "over_budget"
                    return
        except UPSTREAM_FAILURES as exc:
            err = exc if isinstance(exc, UpstreamError) else classify(exc).error
            log.warning("stream from %s broke after content: %s", attempt.provider.name, err)
            self._ending = "broken"
            self._failure = GatewayError(err.status, err.message, err.error_type,
                                         {"provider": attempt.provider.name,
                                          "provider_name": attempt.provider.display_name,
                                          "raw": err.raw})
            return
        except Exception:
            log.exception("internal error while relaying a stream from %s",
                          attempt.provider.name)
            self._ending = "internal"
            self._failure = GatewayError(500, "internal error while relaying the stream",
                                         "internal_error")
            return
        finally:
            with contextlib.suppress(BaseException):
                await it.aclose()
        if 0 not in outcome.finished_choices and self._ending == "finished":
            self._ending = "broken"
            self._failure = GatewayError(
                502, f"{attempt.provider.display_name} ended the stream without a finish "
                "reason: the answer may be incomplete", "provider_unavailable",
                {"provider": attempt.provider.name,
                 "provider_name": attempt.provider.display_name})
        if self._ending == "internal":
            self._ending = "broken"

    # -- continuation ----------------------------------------------------------------

    def _can_continue(self) -> bool:
        failure = self._failure
        return (self.life.continue_on_break and failure is not None
                and failure.error_type != "internal_error" and self.life.plan is not None)

    def _close_segment(self, attempt: Attempt) -> None:
        """What the broken upstream produced becomes a part of the answer, priced apart."""
        life = self.life
        outcome = life.outcome
        usage, cost = life.accountant.segment_cost(outcome, life.meta, life.bounds, attempt,
                                                   outcome.usage, not outcome.segments)
        outcome.segments.append(Segment(attempt, usage, cost))
        for rec in reversed(outcome.attempts):
            if rec.endpoint_id == attempt.endpoint.key and rec.status == 200:
                rec.tokens = (int(usage["prompt_tokens"]), int(usage["completion_tokens"]))
                if self._failure is not None:
                    rec.error_type = self._failure.error_type
                    rec.message = f"stream broke after content: {self._failure.message}"
                break
        outcome.usage = None
        outcome.segment_text = ""

    def _spent(self) -> int:
        return sum(seg.cost.pico for seg in self.life.outcome.segments)

    async def _continue(self, broken: Attempt,
                        cause: GatewayError) -> AsyncGenerator[dict[str, Any], None]:
        """Continue the answer on the plan's next endpoints; `_ending` says if one finished."""
        svc, life = self.svc, self.life
        outcome, executor = life.outcome, svc.executor
        plan = life.plan
        assert plan is not None
        await executor.note_stream_failure(broken, cause)
        self._close_segment(broken)
        self._ending = "broken"
        tried = {broken.endpoint.key}
        start = plan.attempts.index(broken) + 1 if broken in plan.attempts else 0
        for target in plan.attempts[start:]:
            if target.endpoint.key in tried:
                continue
            tried.add(target.endpoint.key)
            if not await svc.health.allow_probe(target.endpoint.key):
                continue
            modes = ["restart"]
            if (self._sent and not self._calls
                    and target.endpoint.prefill_supported(target.provider)):
                modes.insert(0, "prefill")
            for mode in modes:
                body = self._continuation_body(target, mode)
                if body is None:
                    break  # the hold cannot cover this endpoint
                t0 = time.monotonic()
                try:
                    it, buffered = await open_until_content(executor, target, body)
                except UPSTREAM_FAILURES as exc:
                    failed = classify(exc)
                    executor.record_attempt(outcome, target, failed.error.upstream_status
                                            or failed.error.status, t0, failed.error)
                    if mode == "prefill" and failed.error.upstream_status == 400:
                        continue  # prefill refused: restart it without
                    await executor.note_stream_failure(target, failed.error)
                    break
                executor.record_attempt(outcome, target, 200, t0)
                log.info("continuing a broken stream on %s (%s)", target.provider.name, mode)
                outcome.served = target
                outcome.prefill_text = self._sent if mode == "prefill" else ""
                self._skip = "" if mode == "prefill" else self._sent
                self._trim = self._prefill_trimmed if mode == "prefill" else ""
                self._calls.clear()
                self._current = self._relay(it, buffered, target)
                async for out in self._current:
                    yield out
                if self._ending in ("finished", "over_budget"):
                    return
                if self._ending == "diverged":
                    log.warning("restarted answer from %s diverged from what was sent",
                                target.provider.name)
                    self._ending = "broken"
                    return
                if not self._can_continue():
                    return
                await executor.note_stream_failure(target, self._failure or cause)
                self._close_segment(target)
                self._ending = "broken"
                break

    def _continuation_body(self, target: Attempt, mode: str) -> dict[str, Any] | None:
        life = self.life
        body = dict(life.meta.body)
        messages = list(body.get("messages") or [])
        sent_tokens = text_tokens(self._sent)
        prompt = life.bounds.prompt_tokens
        want = life.bounds.output_cap(target)
        self._prefill_trimmed = ""
        if mode == "prefill":
            prefix = self._sent.rstrip()  # Anthropic refuses a prefix ending in whitespace
            self._prefill_trimmed = self._sent[len(prefix):]
            prefix_msg: dict[str, Any] = {"role": "assistant", "content": prefix}
            if target.provider.api not in ("anthropic", "simulator"):
                prefix_msg["prefix"] = True  # DeepSeek's and Mistral's flag for a prefix
            messages.append(prefix_msg)
            prompt += sent_tokens
            want = max(1, want - sent_tokens)
        body["messages"] = messages
        budget = life.bounds.amount - self._spent()
        cap = fit_output(target, prompt, want, budget, self.svc.markup, life.bounds.images)
        if cap < min(want, 16):
            log.info("no continuation on %s: the hold does not cover it", target.provider.name)
            return None
        if cap < want or any(k in body for k in ("max_tokens", "max_completion_tokens")):
            body.pop("max_completion_tokens", None)
            body["max_tokens"] = cap
        return body

    def _note_final_tokens(self) -> None:
        """The last upstream's share of a continued answer, on its attempt record."""
        outcome = self.life.outcome
        if not outcome.segments or outcome.usage is None or outcome.served is None:
            return
        prompt = int(outcome.usage["prompt_tokens"]) - sum(
            int(s.usage["prompt_tokens"]) for s in outcome.segments)
        completion = int(outcome.usage["completion_tokens"]) - sum(
            int(s.usage["completion_tokens"]) for s in outcome.segments)
        for rec in reversed(outcome.attempts):
            if rec.endpoint_id == outcome.served.endpoint.key and rec.status == 200:
                rec.tokens = (prompt, completion)
                break

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
            index = c.get("index", 0)
            changed = False
            if index == 0 and (self._skip or self._trim):
                changed = True
                d = self._after_sent(d)
                if self._ending == "diverged":
                    return None
                c["delta"] = d
            if index == 0 and self.life.continue_on_break and d.get("tool_calls"):
                # tool calls go out whole, so a break never leaves half a JSON argument
                self._hold_calls(d.pop("tool_calls"))
                changed = True
            has_delta = bool(d.get("content") or d.get("tool_calls") or d.get("reasoning"))
            if c.get("finish_reason") and index in outcome.finished_choices and not has_delta:
                continue  # some upstreams repeat the finish on their usage chunk: send it once
            if index == 0 and c.get("finish_reason") and self._calls:
                d["tool_calls"] = self._release_calls()
                c["delta"] = d
                has_delta = True
            if changed and not has_delta and not c.get("finish_reason") and not d.get("role"):
                continue  # nothing left of it to send
            kept.append(c)
            content = d.get("content")
            if content and isinstance(content, str):
                if outcome.first_token_ms is None:
                    outcome.first_token_ms = int((time.monotonic() - outcome.started) * 1000)
                outcome.completion_text += content
                outcome.segment_text += content
                if index == 0:
                    self._sent += content
                self._tokens += text_tokens(content)
            reasoning = d.get("reasoning")
            if reasoning and isinstance(reasoning, str):
                self._tokens += text_tokens(reasoning)
            for call in d.get("tool_calls") or ():
                args = (call.get("function") or {}).get("arguments") or ""
                if isinstance(args, str):
                    outcome.completion_text += args
                    outcome.segment_text += args
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

    def _after_sent(self, delta: dict[str, Any]) -> dict[str, Any]:
        """A continuation's delta without what the client already has: a restarted answer
        must repeat the sent text exactly (else it diverged); a prefilled one may repeat the
        whitespace the prefix was trimmed of."""
        delta = dict(delta)
        if self._skip:
            delta.pop("reasoning", None)  # the client has this answer's reasoning already
            delta.pop("reasoning_details", None)
            text = delta.get("content")
            if delta.get("tool_calls") and not text:
                self._ending = "diverged"  # a tool call where text was sent
                return delta
            if not isinstance(text, str) or not text:
                return {k: v for k, v in delta.items() if k != "content"}
            n = min(len(text), len(self._skip))
            if text[:n] != self._skip[:n]:
                self._ending = "diverged"
                return delta
            self._skip = self._skip[n:]
            delta["content"] = text[n:]
            return delta
        text = delta.get("content")
        if isinstance(text, str) and text:
            n = len(text) - len(text.lstrip())
            cut = min(n, len(self._trim))
            if text[:cut] == self._trim[:cut]:
                delta["content"] = text[cut:]
            self._trim = ""
        return delta

    def _hold_calls(self, fragments: Any) -> None:
        for frag in fragments if isinstance(fragments, list) else ():
            if not isinstance(frag, dict):
                continue
            idx = frag.get("index", len(self._calls))
            call = self._calls.setdefault(idx, {"index": idx, "id": None, "type": "function",
                                                "function": {"name": None, "arguments": ""}})
            if frag.get("id"):
                call["id"] = frag["id"]
            fn = frag.get("function") or {}
            if fn.get("name"):
                call["function"]["name"] = fn["name"]
            if isinstance(fn.get("arguments"), str):
                call["function"]["arguments"] += fn["arguments"]

    def _release_calls(self) -> list[dict[str, Any]]:
        calls = [self._calls[i] for i in sorted(self._calls)]
        self._calls.clear()
        return calls

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
