"""The gateway's own error: rendered as SPEC §3's `{"error": {code, message, metadata}}`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class GatewayError(Exception):
    status: int
    message: str
    error_type: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status}: {self.message}"

    def body(self) -> dict[str, Any]:
        meta = dict(self.metadata)
        if self.error_type and "error_type" not in meta:
            meta["error_type"] = self.error_type
        err: dict[str, Any] = {"code": self.status, "message": self.message}
        if meta:
            err["metadata"] = meta
        return {"error": err}


def bad_request(message: str, field_name: str | None = None) -> GatewayError:
    meta = {"field": field_name} if field_name else {}
    return GatewayError(400, message, "bad_request", meta)


class ClientGone(Exception):
    """The client disconnected before a response started: nothing is left to send."""
