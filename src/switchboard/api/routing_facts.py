"""What the planner needs to know about a chat request beyond its routing fields.

The prompt's size (to check that it fits an endpoint's context before any upstream call) and,
for `openrouter/auto` / `openrouter/free` / `route: "auto"`, the task the prompt is, the
`auto-router` plugin's restrictions and the model the session was given before.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from switchboard.api.chat_request import ChatRequest
from switchboard.errors import bad_request
from switchboard.routing.auto import NO_AUTO, AutoOptions, SessionModels
from switchboard.routing.classifier import classify
from switchboard.routing.variants import ROUTER_MODELS
from switchboard.tokens import prompt_tokens

AUTO_PLUGINS = ("auto-router", "auto-beta-router")


@dataclass(frozen=True, slots=True)
class RoutingFacts:
    prompt_tokens: int
    context_strict: bool  # compression is off: a prompt that cannot fit is refused
    auto: AutoOptions
    session: str | None  # the key SessionModels remembers the router's pick under


def uses_router(creq: ChatRequest) -> bool:
    return creq.route == "auto" or any(
        m.partition(":")[0] in ROUTER_MODELS for m in (creq.model, *creq.models))


def _patterns(plugin: dict[str, Any], name: str) -> tuple[str, ...]:
    value = plugin.get(name)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise bad_request(f"plugins[auto-router].{name} must be an array of model ids or "
                          "patterns such as 'anthropic/*'", "plugins")
    return tuple(value)


def _plugin(body: dict[str, Any]) -> dict[str, Any] | None:
    for p in body.get("plugins") or ():
        if isinstance(p, dict) and p.get("id") in AUTO_PLUGINS and p.get("enabled") is not False:
            return p
    return None


def _session(creq: ChatRequest, account_id: str, headers: Mapping[str, str]) -> str | None:
    """`session_id` (body, else the x-session-id header); without one, a continued conversation
    is known by its first user message."""
    sid = creq.body.get("session_id") or headers.get("x-session-id")
    if isinstance(sid, str) and sid:
        return f"{account_id}:s:{sid[:256]}"
    users = [m for m in creq.messages if m.get("role") == "user"]
    if not users:
        return None
    digest = hashlib.blake2b(repr(users[0].get("content")).encode(), digest_size=16).hexdigest()
    return f"{account_id}:m:{digest}"


def routing_facts(
    creq: ChatRequest, account_id: str, headers: Mapping[str, str], images: int,
    sessions: SessionModels,
) -> RoutingFacts:
    tools = creq.body.get("tools")
    tokens = prompt_tokens(creq.messages, tools)
    # compression is off only when the request says so: `transforms: []` and no
    # context-compression plugin (the default compresses small-context endpoints)
    strict = creq.transforms is not None and "middle-out" not in creq.transforms
    if not uses_router(creq):
        return RoutingFacts(tokens, strict, NO_AUTO, None)
    plugin = _plugin(creq.body) or {}
    kind = classify(creq.messages, images=images, tools=bool(tools), prompt_tokens=tokens)
    session = _session(creq, account_id, headers)
    # a conversation's first turn has nothing to stick to; later turns recall the first pick
    continued = session is not None and (
        ":s:" in session or any(m.get("role") == "assistant" for m in creq.messages))
    return RoutingFacts(tokens, strict, AutoOptions(
        task=kind.task, reason=kind.reason,
        allowed=_patterns(plugin, "allowed_models"), excluded=_patterns(plugin, "excluded_models"),
        sticky_model=sessions.recall(session) if continued else None,
    ), session)
