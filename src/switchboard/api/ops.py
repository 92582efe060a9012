"""GET /health (liveness), GET /ready (readiness) and GET /metrics (Prometheus)."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from switchboard.errors import GatewayError
from switchboard.web import Receive, Request, Response, Send, json_response

if TYPE_CHECKING:
    from switchboard.app import Services
    from switchboard.config import MetricsConf
    from switchboard.observability.observer import Observer

CHECK_TIMEOUT_S = 2.0


@dataclass(slots=True)
class TextResponse:
    """A response with its own content type (web.Response is always JSON)."""

    status: int
    body: bytes
    content_type: bytes
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)

    async def send(self, send: Send, receive: Receive) -> None:
        headers = [(b"content-type", self.content_type),
                   (b"content-length", str(len(self.body)).encode()), *self.headers]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


def health(started: bool, draining: bool) -> Response:
    """Liveness: no I/O, answers as long as the process runs its loop."""
    if draining:
        return json_response(503, {"status": "draining"})
    return json_response(200 if started else 503, {"status": "ok" if started else "starting"})


async def ready(svc: Services | None, draining: bool, observer: Observer) -> Response:
    """Readiness: 503 with the reason while starting or draining, or when the database or
    the configured Redis does not answer within CHECK_TIMEOUT_S."""
    if svc is None:
        return json_response(503, {"status": "starting", "reason": "starting up"})
    if draining:
        return json_response(503, {"status": "draining", "reason": "shutting down"})
    checks: dict[str, str] = {}
    reasons: list[str] = []
    for name, probe in (("database", _database(svc)), ("redis", _redis(svc))):
        if probe is None:
            continue
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                await probe
            checks[name] = "ok"
        except Exception as exc:
            kind = "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__
            checks[name] = f"unreachable ({kind})"
            reasons.append(f"{name} unreachable ({kind})")
            observer.dependency_error(name)
    if reasons:
        return json_response(503, {"status": "unavailable", "reason": "; ".join(reasons),
                                   "checks": checks})
    return json_response(200, {"status": "ready", "checks": checks})


def _database(svc: Services) -> Any:
    return svc.repo.db.fetchone("SELECT 1 AS ok")


def _redis(svc: Services) -> Any:
    return svc.redis.ping() if svc.redis is not None else None


def is_loopback(req: Request) -> bool:
    client = req.scope.get("client")
    if not client:
        return False
    try:
        return ipaddress.ip_address(client[0]).is_loopback
    except ValueError:
        return False


def metrics(req: Request, conf: MetricsConf, observer: Observer, svc: Services | None
            ) -> TextResponse:
    """Prometheus text: open on loopback; elsewhere only with the configured bearer token."""
    m = observer.metrics
    if m is None:
        raise GatewayError(404, "metrics are disabled in the config (metrics.enabled)",
                           "not_found")
    token = req.bearer()
    if token is not None and conf.token:
        if not hmac.compare_digest(token.encode(), conf.token.encode()):
            raise GatewayError(401, "wrong bearer token for /metrics", "unauthorized")
    elif not is_loopback(req):
        if conf.token:
            raise GatewayError(401, "/metrics needs the bearer token set as metrics.token",
                               "unauthorized")
        raise GatewayError(403, "/metrics is served on loopback only unless metrics.token "
                           "is set in the config", "forbidden")
    if svc is not None:
        observer.ledger_depth(svc.ledger.queue_depth)
    from switchboard.observability.metrics import CONTENT_TYPE

    return TextResponse(200, m.render(), CONTENT_TYPE.encode())
