"""Test support: a scriptable mock upstream and a real gateway server, each on its own thread."""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import uvicorn
from aiohttp import web


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Reply:
    """One scripted upstream answer."""

    status: int = 200
    json: Any = None
    sse: list[Any] | None = None  # dicts (sent as data: JSON), raw str lines, or bytes
    delay_s: float = 0.0  # before the status line
    chunk_delay_s: float = 0.0
    cut_after: int | None = None  # drop the connection after this many SSE events
    reset: bool = False  # drop the connection before answering
    stall_after: int | None = None  # after this many SSE events, hold the connection silently
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None


def openai_completion(
    text: str = "Hello!",
    prompt: int = 10,
    completion: int = 5,
    model: str = "gpt-4o-mini",
    **extra: Any,
) -> dict[str, Any]:
    msg: dict[str, Any] = {"role": "assistant", "content": text}
    msg.update(extra.pop("message", {}))
    return {
        "id": "chatcmpl-mock",
        "object": "chat.completion",
        "created": 1700000000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": msg,
                "finish_reason": extra.pop("finish", "stop"),
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            **extra.pop("usage", {}),
        },
        "system_fingerprint": "fp_mock",
    }


def openai_stream(
    pieces: list[str], prompt: int = 10, completion: int = 5, model: str = "gpt-4o-mini"
) -> list[Any]:
    base = {
        "id": "chatcmpl-mock",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": model,
    }
    events: list[Any] = [
        {
            **base,
            "choices": [
                {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
            ],
        }
    ]
    events += [
        {**base, "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]}
        for p in pieces
    ]
    events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    events.append(
        {
            **base,
            "choices": [],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            },
        }
    )
    events.append("[DONE]")
    return events


class MockUpstream:
    """An HTTP server speaking whatever the scripted replies say; records every request."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.port = free_port()
        self._ssl = ssl_context
        self.url = f"{'https' if ssl_context else 'http'}://127.0.0.1:{self.port}"
        self.requests: list[dict[str, Any]] = []
        self._scripts: dict[str, deque[Reply]] = {}
        self.default: Callable[[str, dict[str, Any]], Reply] | None = None
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def script(self, name: str, *replies: Reply) -> None:
        """Queue replies for requests whose path contains `name` (e.g. a provider prefix)."""
        self._scripts.setdefault(name, deque()).extend(replies)

    def reset(self) -> None:
        self.requests.clear()
        self._scripts.clear()
        self.default = None

    def hits(self, name: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if name in r["path"]]

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, handle_signals=False)
        self._loop.run_until_complete(runner.setup())
        self._loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port,
                                                     ssl_context=self._ssl).start())
        self._ready.set()
        self._loop.run_forever()

    def _pick(self, path: str, body: dict[str, Any]) -> Reply:
        for name, queue in self._scripts.items():
            if name in path and queue:
                return queue.popleft()
        if self.default is not None:
            return self.default(path, body)
        return Reply(json=openai_completion())

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            body = {"_raw": raw.decode("utf-8", "replace")}
        entry = {
            "path": request.path_qs,
            "headers": dict(request.headers),
            "body": body,
            "time": time.monotonic(),
            "disconnected": False,
        }
        self.requests.append(entry)
        reply = self._pick(request.path_qs, body)
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        if reply.reset:
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=500)
        if reply.sse is None:
            data = reply.raw if reply.raw is not None else orjson.dumps(reply.json)
            return web.Response(
                status=reply.status,
                body=data,
                headers={"content-type": "application/json", **reply.headers},
            )
        resp = web.StreamResponse(
            status=reply.status, headers={"content-type": "text/event-stream", **reply.headers}
        )
        await resp.prepare(request)
        try:
            for i, ev in enumerate(reply.sse):
                if reply.cut_after is not None and i >= reply.cut_after:
                    assert request.transport is not None
                    request.transport.close()
                    return resp
                if reply.stall_after is not None and i >= reply.stall_after:
                    await _hold_until_closed(request, entry)
                    return resp
                if reply.chunk_delay_s:
                    await asyncio.sleep(reply.chunk_delay_s)
                if isinstance(ev, bytes):
                    await resp.write(ev)
                elif isinstance(ev, str):
                    await resp.write(f"data: {ev}\n\n".encode())
                else:
                    await resp.write(b"data: " + orjson.dumps(ev) + b"\n\n")
        except (ConnectionResetError, asyncio.CancelledError):
            entry["disconnected"] = True
            raise
        await resp.write_eof()
        return resp

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)


async def _hold_until_closed(
    request: web.Request, entry: dict[str, Any], limit_s: float = 30.0
) -> None:
    """Send nothing until the client closes the connection (recorded as `disconnected`)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        transport = request.transport
        if transport is None or transport.is_closing():
            entry["disconnected"] = True
            entry["disconnected_at"] = time.monotonic()
            return
        await asyncio.sleep(0.01)


class GatewayServer:
    """A real Switchboard (uvicorn + the app) on a thread, with its own database."""

    def __init__(
        self,
        config_text: str,
        tmp: Path,
        env: dict[str, str] | None = None,
        database_url: str | None = None,
    ) -> None:
        from switchboard.app import create_app
        from switchboard.cli.serve import uvicorn_hardening
        from switchboard.settings import load_settings

        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/api/v1"
        cfg = tmp / "switchboard.yaml"
        cfg.write_text(config_text)
        self.admin_key = "sk-sb-test-admin-" + os.urandom(6).hex()
        old = dict(os.environ)
        os.environ.update(env or {})
        os.environ["SWITCHBOARD_ADMIN_KEY"] = self.admin_key
        os.environ["SWITCHBOARD_DATABASE_URL"] = database_url or f"sqlite:///{tmp}/sb.db"
        try:
            settings = load_settings(str(cfg))
        finally:
            os.environ.clear()
            os.environ.update(old)
        self.settings = settings
        self.app = create_app(settings)
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            loop="asyncio",
            lifespan="on",
            **uvicorn_hardening(),  # the same server limits `switchboard serve` runs with
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=5,
        )
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, daemon=True)
        self._thread.start()
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        else:
            raise RuntimeError("gateway did not start")
        self.http = httpx.Client(base_url=self.base_url, timeout=30)

    def admin(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return self.http.request(
            method, path, headers={"Authorization": f"Bearer {self.admin_key}"}, **kw
        )

    def new_key(self, name: str = "test", **fields: Any) -> str:
        r = self.admin("POST", "/keys", json={"name": name, **fields})
        assert r.status_code == 201, r.text
        return str(r.json()["key"])

    def charge(self, amount: float, account_id: str | None = None) -> None:
        body: dict[str, Any] = {"amount": amount}
        if account_id:
            body["account_id"] = account_id
        r = self.admin("POST", "/credits/charge", json=body)
        assert r.status_code == 200, r.text

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(15)


def mock_config(mock_url: str, extra: str = "") -> str:
    """Two OpenAI-compatible mock providers serving one model, plus pricing we can check."""
    return f"""
builtin_catalog: false
providers:
  - name: alpha
    display_name: Alpha
    api: openai
    base_url: {mock_url}/alpha/v1
    api_key: sk-alpha
    timeouts: {{connect: 2, first_token: 2, idle: 2, total: 2}}
  - name: beta
    display_name: Beta
    api: openai
    base_url: {mock_url}/beta/v1
    api_key: sk-beta
    timeouts: {{connect: 2, first_token: 2, idle: 2, total: 2}}
models:
  - id: test/gpt
    name: Test GPT
    context_length: 128000
    modality: text+image->text
    endpoints:
      - provider: alpha
        model: gpt-4o-mini
        pricing: {{prompt: 0.15, completion: 0.6}}
        max_completion_tokens: 1000
        supported_parameters: [tools, tool_choice, response_format, temperature, max_tokens, stop]
      - provider: beta
        model: gpt-4o-mini-b
        pricing: {{prompt: 3, completion: 15}}
        max_completion_tokens: 1000
        supported_parameters:
          [tools, tool_choice, response_format, temperature, max_tokens, stop, seed]
{extra}
"""
