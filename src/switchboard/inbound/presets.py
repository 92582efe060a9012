"""Presets applied to a request, and presets made from one (free of I/O except `resolve`).

`"model": "@preset/<slug>"` (or `"preset": "<slug>"`) takes the preset's model or model
list, provider preferences, system prompt and parameters; whatever the request sets
itself wins (provider preferences merge key by key, the request's on top).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from switchboard.errors import GatewayError, bad_request

if TYPE_CHECKING:
    from switchboard.store.presets import PresetStore, PresetVersion
    from switchboard.store.repo import KeyRecord

PREFIX = "@preset/"
# request fields a preset never stores: the conversation and how it is delivered
_NOT_CONFIG = frozenset({"messages", "stream", "stream_options", "preset", "input", "prompt",
                         "system", "instructions"})


def preset_slug(body: Any) -> str | None:
    if not isinstance(body, dict):
        return None
    model = body.get("model")
    if isinstance(model, str) and model.startswith(PREFIX):
        return model[len(PREFIX):]
    preset = body.get("preset")
    return preset if isinstance(preset, str) and preset else None


def apply_preset(body: dict[str, Any], version: PresetVersion) -> dict[str, Any]:
    config = version.config
    out = {k: v for k, v in body.items() if k != "preset"}
    if isinstance(out.get("model"), str) and out["model"].startswith(PREFIX):
        del out["model"]
    for key, value in config.items():
        if key not in out:
            out[key] = value
        elif key == "provider" and isinstance(value, dict) and isinstance(out[key], dict):
            out[key] = {**value, **out[key]}
    if not out.get("model") and not out.get("models"):
        raise bad_request(f"preset version {version.version} names no model, and the request "
                          "gives none", "model")
    messages = out.get("messages")
    if version.system_prompt and isinstance(messages, list) and not any(
            isinstance(m, dict) and m.get("role") in ("system", "developer") for m in messages):
        out["messages"] = [{"role": "system", "content": version.system_prompt}, *messages]
    return out


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text") or "") for p in content if isinstance(p, dict))
    return ""


def config_from_chat(body: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """A chat request as a preset version: its settings, and its system prompt."""
    config = {k: v for k, v in body.items() if k not in _NOT_CONFIG}
    if isinstance(config.get("model"), str) and config["model"].startswith(PREFIX):
        del config["model"]
    systems = [_text(m.get("content")) for m in body.get("messages") or []
               if isinstance(m, dict) and m.get("role") in ("system", "developer")]
    return config, "\n\n".join(systems) or None


class PresetResolver:
    """Looks up the caller's preset when a request names one; others pass untouched."""

    def __init__(self, store: PresetStore) -> None:
        self.store = store

    async def resolve(self, key: KeyRecord, body: Any) -> Any:
        slug = preset_slug(body)
        if slug is None:
            return body
        preset = await self.store.get(key.account_id, slug)
        version = await self.store.version(preset.id, preset.designated_version) if (
            preset) else None
        if version is None:
            raise GatewayError(404, f"preset '{slug}' not found", "not_found",
                               {"field": "model"})
        return apply_preset(body, version)
