"""An account's effective settings: its own stored values, else the config file's defaults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class AccountSettings:
    data_collection: str  # "allow" | "deny"
    store_content: bool
    retain_days: int
    logging_is_default: bool  # True when the account follows the config file's `logging`


def effective_settings(row: dict[str, Any] | None, default: Any) -> AccountSettings:
    """`default` is the config's LoggingConf (store_content, retain_days)."""
    row = row or {}
    store = row.get("store_content")
    days = row.get("retain_days")
    return AccountSettings(
        data_collection=str(row.get("data_collection") or "allow"),
        store_content=bool(default.store_content) if store is None else bool(store),
        retain_days=int(default.retain_days) if days is None else int(days),
        logging_is_default=store is None and days is None,
    )


def request_policy(provider: Any, account_policy: str) -> str:
    """A request's own provider.data_collection wins over the account's, for that request."""
    own = provider.get("data_collection") if isinstance(provider, dict) else None
    return own if own in ("allow", "deny") else account_policy
