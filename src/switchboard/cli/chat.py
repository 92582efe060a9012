"""`switchboard chat`: request bodies, the streamed answer, the conversation loop."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from rich.console import Console
from rich.text import Text

from switchboard.cli.api_client import ApiClient, ApiError, TransportFailure, Unreachable
from switchboard.cli.connection import Connection
from switchboard.cli.failures import (
    EXIT_INTERRUPTED,
    describe,
    say_error,
    with_model_suggestions,
)
from switchboard.cli.output import usd

Message = dict[str, Any]


@dataclass
class ChatSettings:
    model: str
    system: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    provider_order: list[str] = field(default_factory=list)
    provider_only: list[str] = field(default_factory=list)
    fallbacks: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    stream: bool = True

    def messages(self, history: list[Message]) -> list[Message]:
        system = [{"role": "system", "content": self.system}] if self.system else []
        return system + history


def request_body(settings: ChatSettings, history: list[Message], *, stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"model": settings.model, "messages": settings.messages(history),
                            "stream": stream}
    if settings.temperature is not None:
        body["temperature"] = settings.temperature
    if settings.max_tokens is not None:
        body["max_tokens"] = settings.max_tokens
    provider: dict[str, Any] = {}
    if settings.provider_order:
        provider["order"] = settings.provider_order
    if settings.provider_only:
        provider["only"] = settings.provider_only
    if provider:
        body["provider"] = provider
    if settings.fallbacks:
        body["models"] = settings.fallbacks
    if stream:
        body["stream_options"] = {"include_usage": True}
    body["usage"] = {"include": True}  # OpenRouter's older spelling; needed there for cost
    return merge(body, settings.extra)


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """--extra '{"provider": {"sort": "price"}}' adds to --provider-order instead of replacing."""
    out = dict(base)
    for k, v in extra.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


@dataclass
class Answer:
    text: str = ""
    reasoning: str = ""
    gen_id: str | None = None
    model: str | None = None
    provider: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    first_token_s: float | None = None
    total_s: float = 0.0
    interrupted: bool = False

    def note(self, record: dict[str, Any]) -> None:
        """Take id, model, provider and usage from a chunk or a whole response."""
        self.gen_id = record.get("id") or self.gen_id
        self.model = record.get("model") or self.model
        self.provider = record.get("provider") or self.provider
        if isinstance(record.get("usage"), dict):
            self.usage = record["usage"]


class Renderer:
    """Answer text to stdout as it arrives; reasoning dimmed on stderr, so a pipe gets only
    the answer while a terminal shows the thinking first."""

    def __init__(self, out: TextIO, err: Console) -> None:
        self.out, self.err = out, err
        self._reasoning_open = False
        self._wrote = False
        self._last = ""

    def reasoning(self, piece: str) -> None:
        self._reasoning_open = True
        self.err.print(Text(piece, style="dim italic"), end="", soft_wrap=True)

    def content(self, piece: str) -> None:
        if self._reasoning_open:
            self.err.print()
            self._reasoning_open = False
        self.out.write(piece)
        self.out.flush()  # a pipe is block-buffered; the reader wants each token now
        self._wrote, self._last = True, piece

    def end(self) -> None:
        if self._reasoning_open:
            self.err.print()
            self._reasoning_open = False
        if self._wrote and not self._last.endswith("\n"):
            self.out.write("\n")
            self.out.flush()
        self._wrote, self._last = False, ""


def stream_answer(client: ApiClient, body: dict[str, Any], renderer: Renderer) -> Answer:
    """Print the answer as it streams.  Ctrl-C closes the HTTP stream (the gateway then
    cancels the upstream call) and returns what arrived, marked interrupted."""
    answer = Answer()
    started = time.monotonic()
    try:
        with client.stream("chat/completions", body) as stream:
            answer.gen_id = stream.headers.get("x-generation-id")
            for event in stream.events:
                answer.note(event)
                for choice in event.get("choices") or ():
                    _show_delta(choice.get("delta") or {}, answer, renderer, started)
    except KeyboardInterrupt:
        answer.interrupted = True
    finally:
        answer.total_s = time.monotonic() - started
        renderer.end()
    return answer


def _show_delta(delta: dict[str, Any], answer: Answer, renderer: Renderer,
                started: float) -> None:
    thinking = delta.get("reasoning") or delta.get("reasoning_content")
    if isinstance(thinking, str) and thinking:
        answer.reasoning += thinking
        renderer.reasoning(thinking)
    text = delta.get("content")
    if isinstance(text, str) and text:
        if answer.first_token_s is None:
            answer.first_token_s = time.monotonic() - started
        answer.text += text
        renderer.content(text)


def complete(client: ApiClient, body: dict[str, Any], renderer: Renderer) -> Answer:
    """One non-streamed answer, printed whole."""
    started = time.monotonic()
    data = client.json("POST", "chat/completions", body=body)
    answer = Answer(total_s=time.monotonic() - started)
    answer.note(data)
    choices = data.get("choices") or [{}]
    message = choices[0].get("message") or {}
    thinking = message.get("reasoning") or message.get("reasoning_content")
    if isinstance(thinking, str) and thinking:
        answer.reasoning = thinking
        renderer.reasoning(thinking)
    if isinstance(message.get("content"), str):
        answer.text = message["content"]
        renderer.content(answer.text)
    renderer.end()
    return answer


def stats_line(answer: Answer) -> Text:
    usage = answer.usage
    parts = [answer.provider or "?", answer.model or "?"]
    tokens = f"{usage.get('prompt_tokens', '?')} in, {usage.get('completion_tokens', '?')} out"
    reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens")
    if reasoning:
        tokens += f" ({reasoning} reasoning)"
    parts.append(tokens)
    if usage.get("cost") is not None:
        parts.append(usd(usage["cost"]))
    timing = f"{answer.total_s:.2f}s"
    if answer.first_token_s is not None:
        timing += f" (first token {answer.first_token_s:.2f}s)"
    parts.append(timing)
    if answer.gen_id:
        parts.append(answer.gen_id)
    return Text(" · ".join(parts), style="dim")


def ask(client: ApiClient, settings: ChatSettings, history: list[Message],
        renderer: Renderer) -> Answer:
    body = request_body(settings, history, stream=settings.stream)
    try:
        if settings.stream:
            return stream_answer(client, body, renderer)
        return complete(client, body, renderer)
    except ApiError as exc:
        raise with_model_suggestions(exc, client, settings.model) from None


_HELP = ("/exit quits · /model NAME switches model · /system TEXT sets the system prompt "
         "(empty clears) · /clear forgets the conversation")


def converse(client: ApiClient, conn: Connection, settings: ChatSettings, renderer: Renderer,
             err: Console, read: Callable[[str], str] = input) -> int:
    """The interactive loop: history kept between turns.  Ctrl-C during an answer stops
    that answer; Ctrl-C or Ctrl-D at the prompt leaves."""
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401  -- imported for its effect: line editing in input()
    history: list[Message] = []
    err.print(Text(f"chatting with {settings.model}. {_HELP}", style="dim"))
    while True:
        try:
            line = read("> ").strip()
        except EOFError:
            err.print()
            return 0
        except KeyboardInterrupt:
            err.print()
            return EXIT_INTERRUPTED
        if not line:
            continue
        if line.startswith("/"):
            if _slash_command(line, settings, history, err):
                return 0
            continue
        history.append({"role": "user", "content": line})
        try:
            answer = ask(client, settings, history, renderer)
        except (ApiError, Unreachable, TransportFailure) as exc:
            history.pop()  # a failed turn is not part of the conversation
            say_error(describe(exc, conn))
            continue
        except KeyboardInterrupt:  # during a non-streamed answer
            history.pop()
            err.print(Text("(stopped)", style="dim"))
            continue
        if answer.text:
            history.append({"role": "assistant", "content": answer.text})
        else:
            history.pop()
        err.print(Text("(stopped)", style="dim") if answer.interrupted else stats_line(answer),
                  soft_wrap=True)


def _slash_command(line: str, settings: ChatSettings, history: list[Message],
                   err: Console) -> bool:
    """Apply one /command; True means leave the loop."""
    name, _, arg = line.partition(" ")
    arg = arg.strip()
    if name in ("/exit", "/quit"):
        return True
    if name == "/model":
        if arg:
            settings.model = arg
        err.print(Text(f"model: {settings.model}", style="dim"))
    elif name == "/system":
        settings.system = arg or None
        err.print(Text(f"system prompt: {arg}" if arg else "system prompt cleared", style="dim"))
    elif name == "/clear":
        history.clear()
        err.print(Text("conversation cleared", style="dim"))
    else:
        err.print(Text(f"unknown command {name}. {_HELP}", style="dim"))
    return False
