"""Builds the ASGI application: services created in the lifespan, routes, error handling."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from switchboard.api import ops
from switchboard.api.accounts import AccountsHandler
from switchboard.api.auth import Authenticator
from switchboard.api.catalog import CatalogHandler
from switchboard.api.chat import ChatHandler
from switchboard.api.embeddings import EmbeddingsHandler
from switchboard.api.generations import GenerationsHandler
from switchboard.api.keys import KeysHandler
from switchboard.api.messages import MessagesHandler
from switchboard.api.money import MoneyHandler
from switchboard.api.openapi import OpenAPIHandler
from switchboard.api.presets import PresetsHandler
from switchboard.api.responses import ResponsesHandler
from switchboard.billing.ledger import Ledger
from switchboard.console.serve import ConsoleHandler
from switchboard.dialects.registry import Dialects
from switchboard.errors import ClientGone, GatewayError
from switchboard.execution.accounting import Accountant
from switchboard.execution.executor import Executor
from switchboard.execution.service import ChatService
from switchboard.execution.upstream import UpstreamClient
from switchboard.inbound.presets import PresetResolver
from switchboard.limits.limiter import Limiter, MemoryWindows, RedisWindows
from switchboard.observability.context import RequestContext
from switchboard.observability.context import current as request_context
from switchboard.observability.observer import Observer
from switchboard.observability.setup import build_observer
from switchboard.routing.health import HealthTracker
from switchboard.routing.health_redis import RedisHealthTracker
from switchboard.settings import Settings
from switchboard.store import db as dbmod
from switchboard.store import migrations, root_keys
from switchboard.store.account_settings import AccountSettings, effective_settings
from switchboard.store.presets import PresetStore
from switchboard.store.queries import purge_account_content
from switchboard.store.repo import DEFAULT_ACCOUNT, Repo, hash_key
from switchboard.web import Receive, Request, Scope, Send, StreamResponse, error_response

log = logging.getLogger("switchboard")
Handler = Callable[[Request], Awaitable[Any]]
_PATTERN_NAME = re.compile(r"\(\?P<(\w+)>\[\^/\]\+\)")


@dataclass
class Services:
    """Everything a request needs, created once per process in the lifespan."""

    settings: Settings
    repo: Repo
    ledger: Ledger
    executor: Executor
    health: Any
    limiter: Limiter
    auth: Authenticator
    redis: Any = None
    web: Any = None  # the web plugin, when the config names a search engine
    presets: Any = None  # resolves "model": "@preset/<slug>" (inbound/presets.py)
    chat: ChatService = None  # type: ignore[assignment]  # set right after construction
    rng: random.Random = field(default_factory=random.Random)
    keepalive_first_s: float = 2.0
    keepalive_every_s: float = 3.0
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    observer: Observer = field(default_factory=Observer)
    boot_messages: list[str] = field(default_factory=list)

    @property
    def catalog(self) -> Any:
        return self.settings.catalog

    def account_policy(self, account_id: str) -> str:
        return str(self.accounts.get(account_id, {}).get("data_collection") or "allow")

    def store_content(self, account_id: str) -> bool:
        """The request path's question, answered from memory in a dict lookup or two."""
        own = self.accounts.get(account_id, {}).get("store_content")
        return bool(self.settings.file.logging.store_content) if own is None else bool(own)

    def account_settings(self, account_id: str) -> AccountSettings:
        """Settings from the in-memory account rows: no database read on the request path."""
        return effective_settings(self.accounts.get(account_id), self.settings.file.logging)

    def charged_total(self, account_id: str) -> int:
        return int(self.accounts.get(account_id, {}).get("charged_total") or 0)

    def note_account(self, row: dict[str, Any]) -> None:
        self.accounts[row["id"]] = row

    async def refresh_accounts(self) -> None:
        for row in await self.repo.list_accounts():
            self.accounts[row["id"]] = row

    async def publish_key_change(self, key_hash: str) -> None:
        if self.redis is not None:
            with contextlib.suppress(Exception):
                await self.redis.publish("sb:keys", key_hash)

    async def publish_account_change(self, account_id: str) -> None:
        if self.redis is not None:
            with contextlib.suppress(Exception):
                await self.redis.publish("sb:accounts", account_id)

    async def reload_account(self, account_id: str) -> None:
        row = await self.repo.get_account(account_id)
        if row is not None:
            self.note_account(row)


async def bootstrap_keys(repo: Repo, admin_key: str | None) -> list[str]:
    """First start: the default account, the root key and a first API key, printed once.

    With SWITCHBOARD_ADMIN_KEY set, that value is a root key (stored hashed, not printed),
    leased: once no instance names it any more, it stops working (store/root_keys.py).
    """
    messages: list[str] = []
    await repo.ensure_default_account()
    first_start = not await repo.root_key_exists()
    if admin_key:
        await root_keys.adopt_env_key(repo, admin_key)
    await root_keys.expire_env_keys(repo.db)
    if first_start and not admin_key:
        root, _ = await repo.create_key(DEFAULT_ACCOUNT, "root", "root")
        messages += ["First start: keys below are shown once and stored only as hashes.",
                     f"  root admin key : {root}"]
    if first_start:
        first, _ = await repo.create_key(DEFAULT_ACCOUNT, "first key")
        if not messages:
            messages.append("First start: the key below is shown once and stored only as a hash.")
        messages.append(f"  first API key  : {first}")
        # the lines a newcomer pastes into the terminal the README's commands run in
        messages.append("Paste into the terminal you send requests from:")
        if not admin_key:
            messages.append(f"export SWITCHBOARD_ADMIN_KEY={root}")
        messages.append(f"export SWITCHBOARD_API_KEY={first}")
    return messages


async def purge_expired_content(svc: Services) -> None:
    """Stored content goes after each account's retain_days: one statement for the accounts
    on the config's default, one per account with its own retention."""
    default_days = svc.settings.file.logging.retain_days
    now = datetime.now(UTC)

    def cutoff(days: int) -> str:
        return (now - timedelta(days=days)).isoformat().replace("+00:00", "Z")

    own = {a: svc.account_settings(a).retain_days for a in list(svc.accounts)}
    own = {a: d for a, d in own.items() if d != default_days}
    db = svc.repo.db
    await purge_account_content(db, cutoff(default_days), sorted(own), exclude=True)
    for account_id, days in own.items():
        await purge_account_content(db, cutoff(days), [account_id], exclude=False)


class Router:
    def __init__(self) -> None:
        self.exact: dict[tuple[str, str], Handler] = {}
        self.patterns: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, method: str, path: str, handler: Handler) -> None:
        if "{" in path:
            rx = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path) + "$")
            self.patterns.append((method, rx, handler))
        else:
            self.exact[(method, path)] = handler

    def pattern(self, method: str, path: str, params: dict[str, str]) -> str:
        """The route a matched path belongs to (a bounded metrics label, not the raw path)."""
        if not params:
            return path
        for m, rx, _ in self.patterns:
            if (m == method or (method == "HEAD" and m == "GET")) and rx.match(path):
                return _PATTERN_NAME.sub(r"{\1}", rx.pattern[1:-1])
        return path

    def match(self, method: str, path: str) -> tuple[Handler | None, dict[str, str], bool]:
        h = self.exact.get((method, path))
        if h is not None:
            return h, {}, True
        if method == "HEAD":  # answered as GET; the server leaves out the body
            h = self.exact.get(("GET", path))
            if h is not None:
                return h, {}, True
        known = any(p == path for (_, p) in self.exact)
        for m, rx, handler in self.patterns:
            found = rx.match(path)
            if found:
                if m == method or (method == "HEAD" and m == "GET"):
                    return handler, found.groupdict(), True
                known = True
        return None, {}, known

    def allowed(self, path: str) -> list[str]:
        """The methods a path answers, for a 405's `Allow` header."""
        methods = {m for (m, p) in self.exact if p == path}
        methods |= {m for m, rx, _ in self.patterns if rx.match(path)}
        if "GET" in methods:
            methods.add("HEAD")
        return sorted(methods)


class SwitchboardApp:
    def __init__(self, settings: Settings, upstream: UpstreamClient | None = None) -> None:
        self.settings = settings
        self.upstream = upstream or UpstreamClient.from_settings(settings)
        self.svc: Services | None = None
        self.router = Router()
        self._tasks: list[asyncio.Task[Any]] = []
        self._inflight = 0
        self._draining = False
        self.observer: Observer = build_observer(settings)

    # -- lifespan --------------------------------------------------------------------

    async def startup(self) -> None:
        s = self.settings
        database = await dbmod.connect(s.database_url)
        await migrations.upgrade(database)
        repo = Repo(database)
        boot = await bootstrap_keys(repo, s.admin_key)
        redis = None
        if s.redis_url:
            import redis.asyncio as aioredis

            redis = aioredis.from_url(s.redis_url)
            await redis.ping()
            health: Any = RedisHealthTracker(redis)
            await health.start()
            windows: Any = RedisWindows(redis)
        else:
            health = HealthTracker()
            windows = MemoryWindows()
        health.observer = self.observer
        await self.upstream.start()
        ledger = Ledger(database)
        ledger.observer = self.observer
        await ledger.start()
        svc = Services(
            settings=s, repo=repo, ledger=ledger,
            executor=Executor(self.upstream, Dialects(), health), health=health,
            limiter=Limiter(windows, lambda a: svc.charged_total(a)),
            auth=Authenticator(repo, s.admin_key),
            redis=redis, boot_messages=boot, observer=self.observer,
        )
        svc.executor.observer = self.observer
        if s.file.web_search is not None:
            from switchboard.plugins.web_search import WebSearch

            svc.web = WebSearch(s.file.web_search, self.upstream.http)
        svc.chat = ChatService(
            catalog=s.catalog, markup=s.markup, ledger=ledger, limiter=svc.limiter,
            health=health, executor=svc.executor,
            accountant=Accountant(ledger, health, s.markup, s.file.web_search,
                                  svc.store_content,
                                  self.observer),
            account_policy=svc.account_policy, web=svc.web, web_conf=s.file.web_search,
            rng=svc.rng, keepalive_first_s=svc.keepalive_first_s,
            keepalive_every_s=svc.keepalive_every_s,
            continue_on_break=s.file.continue_on_break)
        await svc.refresh_accounts()
        self.svc = svc
        self._routes(svc)
        self._tasks.append(asyncio.create_task(self._housekeeping(svc)))
        if redis is not None:
            self._tasks.append(asyncio.create_task(self._key_invalidations(svc)))
        self._database = database

    async def shutdown(self, drain_s: float = 10.0) -> None:
        self._draining = True
        deadline = time.monotonic() + drain_s
        while self._inflight and time.monotonic() < deadline:
            await asyncio.sleep(0.05)  # let in-flight streams finish, bounded
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(BaseException):
                await t
        if self.svc is not None:
            await self.svc.ledger.stop()
            health = self.svc.health
            if hasattr(health, "stop"):
                await health.stop()
            if self.svc.redis is not None:
                await self.svc.redis.aclose()
        await self.upstream.close()
        if self.settings.admin_key:
            with contextlib.suppress(Exception):
                await root_keys.release_env_key(self._database, hash_key(self.settings.admin_key))
        await self._database.close()
        self.observer.close()

    async def _housekeeping(self, svc: Services) -> None:
        while True:
            await asyncio.sleep(5)
            try:
                await svc.refresh_accounts()
                if svc.settings.admin_key:
                    await root_keys.renew_env_key(svc.repo.db, hash_key(svc.settings.admin_key))
                await root_keys.expire_env_keys(svc.repo.db)
                await purge_expired_content(svc)
            except Exception as exc:
                self.observer.background_failure("housekeeping", exc, "database")

    async def _key_invalidations(self, svc: Services) -> None:
        """Other instances' key changes; resubscribes when Redis comes back, and then forgets
        every cached key record, since changes made meanwhile were not heard."""
        lost = False
        while True:
            try:
                pubsub = svc.redis.pubsub()
                await pubsub.subscribe("sb:keys", "sb:accounts")
                if lost:
                    svc.auth.invalidate()
                    self.observer.recovered("redis key invalidations")
                    lost = False
                async for msg in pubsub.listen():
                    if msg.get("type") != "message":
                        continue
                    if msg["channel"] in (b"sb:accounts", "sb:accounts"):
                        with contextlib.suppress(Exception):  # the 5 s refresh catches up
                            await svc.reload_account(msg["data"].decode())
                    else:
                        svc.auth.invalidate(msg["data"].decode())
            except Exception as exc:
                if not lost:
                    self.observer.background_failure("redis key invalidations", exc, "redis")
                lost = True
                await asyncio.sleep(1.0)

    def _routes(self, svc: Services) -> None:
        chat, cat, keys, money = (ChatHandler(svc), CatalogHandler(svc), KeysHandler(svc),
                                  MoneyHandler(svc))
        r = self.router
        v1 = "/api/v1"
        r.add("POST", f"{v1}/chat/completions", chat.chat)
        r.add("POST", f"{v1}/completions", chat.completions)
        r.add("GET", f"{v1}/models", cat.models)
        r.add("GET", f"{v1}/models/{{author}}/{{slug}}/endpoints", cat.endpoints)
        r.add("GET", f"{v1}/providers", cat.providers)
        r.add("GET", f"{v1}/auth/key", keys.current)
        r.add("GET", f"{v1}/key", keys.current)
        r.add("GET", f"{v1}/keys", keys.list)
        r.add("POST", f"{v1}/keys", keys.create)
        r.add("GET", f"{v1}/keys/{{hash}}", keys.get)
        r.add("PATCH", f"{v1}/keys/{{hash}}", keys.update)
        r.add("DELETE", f"{v1}/keys/{{hash}}", keys.delete)
        r.add("GET", f"{v1}/credits", money.credits)
        r.add("POST", f"{v1}/credits/charge", money.charge)
        r.add("GET", f"{v1}/accounts", money.list_accounts)
        r.add("POST", f"{v1}/accounts", money.create_account)
        r.add("GET", f"{v1}/generation", money.generation)
        gens, accounts = GenerationsHandler(svc), AccountsHandler(svc)
        r.add("GET", f"{v1}/activity", gens.activity)
        r.add("GET", f"{v1}/generations", gens.list)
        r.add("GET", f"{v1}/generation/content", gens.content)
        r.add("GET", f"{v1}/accounts/{{id}}", accounts.get)
        r.add("PATCH", f"{v1}/accounts/{{id}}", accounts.update)
        r.add("GET", f"{v1}/credits/history", accounts.credit_history)
        console = ConsoleHandler(svc)
        r.add("GET", "/", console.index)
        r.add("GET", "/console/model-providers.json", console.model_providers)
        r.add("GET", "/console/{name}", console.asset)
        r.add("GET", f"{v1}/openapi.json", OpenAPIHandler().get)
        self._surface_routes(svc, chat, cat)

    def _surface_routes(self, svc: Services, chat: ChatHandler, cat: CatalogHandler) -> None:
        """The other inbound APIs (Responses, Messages, embeddings), lookups and presets."""
        r, v1 = self.router, "/api/v1"
        r.add("POST", f"{v1}/responses", ResponsesHandler(svc, chat).create)
        r.add("POST", f"{v1}/messages", MessagesHandler(svc, chat).create)
        embeddings = EmbeddingsHandler(svc, chat)
        r.add("POST", f"{v1}/embeddings", embeddings.create)
        r.add("GET", f"{v1}/embeddings/models", embeddings.models)
        r.add("GET", f"{v1}/models/count", cat.models_count)
        r.add("GET", f"{v1}/models/user", cat.models_user)
        r.add("GET", f"{v1}/model/{{author}}/{{slug}}", cat.model)
        presets = PresetsHandler(svc, PresetStore(svc.repo.db))
        svc.presets = PresetResolver(presets.store)
        r.add("GET", f"{v1}/presets", presets.list)
        r.add("POST", f"{v1}/presets", presets.create)
        r.add("GET", f"{v1}/presets/{{slug}}", presets.get)
        r.add("DELETE", f"{v1}/presets/{{slug}}", presets.delete)
        r.add("POST", f"{v1}/presets/{{slug}}/chat/completions", presets.from_chat)
        r.add("POST", f"{v1}/presets/{{slug}}/messages", presets.from_messages)
        r.add("POST", f"{v1}/presets/{{slug}}/responses", presets.from_responses)
        r.add("GET", f"{v1}/presets/{{slug}}/versions", presets.versions)
        r.add("GET", f"{v1}/presets/{{slug}}/versions/{{version}}", presets.version)

    def _api_hint(self, method: str, path: str) -> str:
        """For OpenAI's base path (/v1/...) and other near misses: where the API lives."""
        if path.startswith("/api/v1/"):
            return ""
        tail = path.removeprefix("/v1") if path.startswith("/v1/") else path
        for candidate in ("/api/v1" + tail, "/api/v1" + path.removeprefix("/api")):
            if self.router.match(method, candidate)[0] is not None:
                return (f"; the API lives under /api/v1, as on OpenRouter: use {candidate} "
                        "(base URL http://<host>:<port>/api/v1)")
        return ""

    # -- ASGI ------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        req = Request(scope, receive)
        obs = self.observer
        ctx = obs.begin(req.headers.get("x-request-id"))
        token = request_context.set(ctx)
        status = 500
        try:
            path = scope["path"]
            if path in _OPS_PATHS:
                response: Any = await self._ops(req, ctx)
                status = response.status
                response.headers.append((b"x-request-id", ctx.request_id.encode()))
                await response.send(send, receive)
                return
            self._inflight += 1
            try:
                response = await self._dispatch(req, ctx)
            except asyncio.CancelledError:
                self._inflight -= 1
                status = 499
                raise
            if response is None:
                self._inflight -= 1
                status = 499
                return
            status = response.status
            response.headers.append((b"x-request-id", ctx.request_id.encode()))
            streamed = isinstance(response, StreamResponse)
            if streamed:
                obs.stream_started()
            try:
                await response.send(send, receive)
            finally:
                self._inflight -= 1
                if streamed:
                    obs.stream_ended()
        finally:
            obs.end(ctx, req.method, status)
            request_context.reset(token)

    async def _dispatch(self, req: Request, ctx: RequestContext) -> Any:
        path = req.path
        try:
            if len(path) > 1 and path.endswith("/"):
                path = path.rstrip("/")
            handler, params, known = self.router.match(req.method, path)
            if handler is None:
                self.observer.routed(ctx, req.method, "unmatched", req.headers)
                if not known:
                    raise GatewayError(404, f"no such endpoint: {req.method} {path}"
                                       + self._api_hint(req.method, path), "not_found")
                allow = ", ".join(self.router.allowed(path))
                raise GatewayError(405, f"method {req.method} not allowed on {path} "
                                   f"(allowed: {allow})", "method_not_allowed",
                                   headers={"Allow": allow})
            self.observer.routed(ctx, req.method, self.router.pattern(req.method, path, params),
                                 req.headers)
            req.path_params = params
            return await handler(req)
        except GatewayError as err:
            self.observer.rejected(ctx, err.status, err.error_type or "error", err.message)
            return error_response(err)
        except ClientGone:
            return None  # the client left before a response started: nothing to send
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("unhandled error on %s %s", req.method, path)
            return error_response(GatewayError(500, "internal error", "internal_error"))

    async def _ops(self, req: Request, ctx: RequestContext) -> Any:
        """Health, readiness and metrics: answered without the router or the in-flight count."""
        path = req.path
        self.observer.routed(ctx, req.method, "/health" if path.endswith("/health") else path,
                             req.headers)
        if path == "/ready":
            return await ops.ready(self.svc, self._draining, self.observer)
        if path == "/metrics":
            try:
                return ops.metrics(req, self.settings.file.metrics, self.observer, self.svc)
            except GatewayError as err:
                return error_response(err)
        return ops.health(self.svc is not None, self._draining)


_OPS_PATHS = frozenset({"/health", "/api/v1/health", "/ready", "/metrics"})


def create_app(settings: Settings, upstream: UpstreamClient | None = None) -> SwitchboardApp:
    return SwitchboardApp(settings, upstream)
