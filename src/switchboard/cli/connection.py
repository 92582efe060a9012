"""Where the client commands send requests, and with which key.

Resolution order: the command's own option, then SWITCHBOARD_* variables, then, when no
Switchboard setting exists at all, OPENROUTER_API_KEY against openrouter.ai: the same
commands then work unchanged against OpenRouter, whose API Switchboard clones.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

LOCAL_BASE_URL = "http://127.0.0.1:8080/api/v1"
OPENROUTER_BASE_URL = "https://openrouter.ai/api/v1"


@dataclass(frozen=True, slots=True)
class Connection:
    base_url: str
    api_key: str | None
    key_source: str  # named in hints: "--api-key", "SWITCHBOARD_API_KEY", ...

    @property
    def is_openrouter(self) -> bool:
        return "openrouter.ai" in self.base_url


def resolve(
    base_url: str | None,
    api_key: str | None,
    *,
    admin: bool = False,
    env: Mapping[str, str] | None = None,
) -> Connection:
    """Pick the base URL and key.  `admin` commands (keys, credits charge) also accept the
    server's own SWITCHBOARD_ADMIN_KEY, so an operator on the gateway's host needs no flag."""
    env = os.environ if env is None else env
    base = base_url or env.get("SWITCHBOARD_BASE_URL") or None
    # the gateway's root key never leaves for openrouter.ai
    key, source = _key(api_key, env, admin and "openrouter.ai" not in (base or ""))
    openrouter_key = env.get("OPENROUTER_API_KEY")
    if key is None and openrouter_key and (base is None or "openrouter.ai" in base):
        base, key, source = base or OPENROUTER_BASE_URL, openrouter_key, "OPENROUTER_API_KEY"
    return Connection((base or LOCAL_BASE_URL).rstrip("/"), key, source)


def _key(option: str | None, env: Mapping[str, str], admin: bool) -> tuple[str | None, str]:
    if option:
        return option, "--api-key"
    names = ("SWITCHBOARD_ADMIN_KEY", "SWITCHBOARD_API_KEY") if admin else (
        "SWITCHBOARD_API_KEY",)
    for name in names:
        if env.get(name):
            return env[name], name
    return None, "SWITCHBOARD_API_KEY"
