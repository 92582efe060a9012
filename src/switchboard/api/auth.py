"""Bearer-key authentication with a short-lived cache of key records (never the keys)."""

from __future__ import annotations

import hmac
import time

from switchboard.errors import GatewayError
from switchboard.store import root_keys
from switchboard.store.repo import KeyRecord, Repo, hash_key
from switchboard.web import Request

_CACHE_TTL_S = 2.0  # bounded staleness for a key disabled on another instance


def _key_hint(token: str) -> str:
    """An OpenRouter or provider key sent to Switchboard: say which key it wants instead."""
    if token.startswith("sk-or-"):
        source = "an OpenRouter key (sk-or-v1-…)"
    elif token.startswith("sk-") and not token.startswith("sk-sb-"):
        source = "a provider's key"
    else:
        return ""
    return (f": this looks like {source}. Switchboard takes its own keys (sk-sb-v1-…): the "
            "first API key printed on the server's first start, or one made with "
            "`switchboard keys create`; provider keys belong in the server's environment "
            "(OPENAI_API_KEY, …)")


class Authenticator:
    def __init__(self, repo: Repo, admin_key: str | None = None) -> None:
        self.repo = repo
        self._admin_key = admin_key  # this instance's SWITCHBOARD_ADMIN_KEY
        self._cache: dict[str, tuple[float, KeyRecord | None]] = {}
        self._by_hash: dict[str, str] = {}

    def invalidate(self, key_hash: str | None = None) -> None:
        if key_hash is None:
            self._cache.clear()
            self._by_hash.clear()
        else:
            token = self._by_hash.pop(key_hash, None)
            if token is not None:
                self._cache.pop(token, None)

    async def key(self, req: Request) -> KeyRecord:
        # Anthropic's clients (and Claude Code) send the key as x-api-key
        token = req.bearer() or req.headers.get("x-api-key")
        if not token:
            raise GatewayError(401, "Missing Authentication header: send 'Authorization: "
                               "Bearer <key>'", "unauthorized")
        now = time.monotonic()
        # keyed by the token itself: it lives only in this process's memory, and a hit
        # skips hashing; records are invalidated by hash, so both keys are kept
        hit = self._cache.get(token)
        if hit is not None and hit[0] > now:
            record = hit[1]
        else:
            h = hash_key(token)
            record = await self.repo.key_record(h)
            if record is not None and root_keys.lease_ended(record.lease_until):
                if self._admin_key is not None and hmac.compare_digest(
                        token.encode(), self._admin_key.encode()):
                    # another instance naming the same key stopped and ended its lease:
                    # this one still names it
                    await root_keys.renew_env_key(self.repo.db, h)
                    record = await self.repo.key_record(h)
                else:
                    record = None  # SWITCHBOARD_ADMIN_KEY no longer names it
            if len(self._cache) > 100_000:
                self._cache.clear()
                self._by_hash.clear()
            self._cache[token] = (now + _CACHE_TTL_S, record)
            self._by_hash[h] = token
        if record is None:
            raise GatewayError(401, "Invalid API key" + _key_hint(token), "unauthorized")
        if record.disabled:
            raise GatewayError(401, "This API key is disabled", "unauthorized")
        return record

    async def inference_key(self, req: Request) -> KeyRecord:
        record = await self.key(req)
        if not record.can_infer:
            raise GatewayError(403, f"a {record.kind} key cannot run completions; "
                               "use an inference API key", "forbidden")
        return record

    async def manager_key(self, req: Request) -> KeyRecord:
        record = await self.key(req)
        if not record.can_manage:
            raise GatewayError(403, "this endpoint needs a provisioning or root key; "
                               "inference keys cannot manage keys", "forbidden")
        return record

    async def root_key(self, req: Request) -> KeyRecord:
        record = await self.key(req)
        if record.kind != "root":
            raise GatewayError(403, "this endpoint needs the root admin key", "forbidden")
        return record
