"""Presets management in OpenRouter's routes and shapes, for provisioning and root keys.

GET /presets[/{slug}], GET /presets/{slug}/versions[/{version}], POST /presets/{slug}/
chat/completions | messages | responses (a new version from a request body of that
kind), and our own POST /presets and DELETE /presets/{slug}. Presets belong to the
calling key's account.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from switchboard.api.model_filters import DEFAULT_LIMIT, MAX_LIMIT
from switchboard.errors import GatewayError, bad_request
from switchboard.inbound import messages, responses
from switchboard.inbound.presets import config_from_chat
from switchboard.store.presets import Preset, PresetStore, PresetVersion
from switchboard.web import Request, Response, json_response

if TYPE_CHECKING:
    from switchboard.app import Services

_SLUG = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")


def version_view(v: PresetVersion) -> dict[str, Any]:
    return {"id": v.id, "preset_id": v.preset_id, "creator_id": v.created_by or "",
            "version": v.version, "system_prompt": v.system_prompt, "config": v.config,
            "created_at": v.created_at, "updated_at": v.created_at}


def preset_view(p: Preset, designated: PresetVersion | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": p.id, "creator_user_id": p.created_by, "workspace_id": p.account_id,
        "name": p.name, "slug": p.slug, "description": p.description, "status": "active",
        "designated_version_id": designated.id if designated else None,
        "created_at": p.created_at, "updated_at": p.updated_at, "status_updated_at": None,
    }
    if designated is not None:
        out["designated_version"] = version_view(designated)
    return out


def _page(req: Request) -> tuple[int, int]:
    try:
        offset = int(req.query.get("offset") or 0)
        limit = int(req.query.get("limit") or DEFAULT_LIMIT)
    except ValueError:
        raise bad_request("offset and limit must be integers", "limit") from None
    if offset < 0 or not 1 <= limit <= MAX_LIMIT:
        raise bad_request(f"offset must be >= 0 and limit between 1 and {MAX_LIMIT}", "limit")
    return offset, limit


def _slug(raw: Any) -> str:
    if not isinstance(raw, str) or not _SLUG.fullmatch(raw):
        raise bad_request("slug must be 1-64 lowercase letters, digits, '-', '_' or '.', "
                          "starting with a letter or digit", "slug")
    return raw


class PresetsHandler:
    def __init__(self, svc: Services, store: PresetStore) -> None:
        self.svc = svc
        self.store = store

    async def _found(self, account_id: str, slug: str) -> Preset:
        preset = await self.store.get(account_id, slug)
        if preset is None:
            raise GatewayError(404, f"preset '{slug}' not found", "not_found")
        return preset

    async def list(self, req: Request) -> Response:
        key = await self.svc.auth.manager_key(req)
        offset, limit = _page(req)
        presets, total = await self.store.page(key.account_id, offset, limit)
        return json_response(200, {"data": [preset_view(p) for p in presets],
                                   "total_count": total})

    async def get(self, req: Request) -> Response:
        key = await self.svc.auth.manager_key(req)
        preset = await self._found(key.account_id, req.path_params["slug"])
        designated = await self.store.version(preset.id, preset.designated_version)
        return json_response(200, {"data": preset_view(preset, designated)})

    async def delete(self, req: Request) -> Response:
        key = await self.svc.auth.manager_key(req)
        slug = req.path_params["slug"]
        if not await self.store.delete(key.account_id, slug):
            raise GatewayError(404, f"preset '{slug}' not found", "not_found")
        return json_response(200, {"data": {"slug": slug, "deleted": True}})

    async def versions(self, req: Request) -> Response:
        key = await self.svc.auth.manager_key(req)
        preset = await self._found(key.account_id, req.path_params["slug"])
        offset, limit = _page(req)
        found, total = await self.store.versions(preset.id, offset, limit)
        return json_response(200, {"data": [version_view(v) for v in found],
                                   "total_count": total})

    async def version(self, req: Request) -> Response:
        key = await self.svc.auth.manager_key(req)
        preset = await self._found(key.account_id, req.path_params["slug"])
        raw = req.path_params["version"]
        found = await self.store.version(preset.id, int(raw)) if raw.isdigit() else None
        if found is None:
            raise GatewayError(404, f"preset '{preset.slug}' has no version {raw}", "not_found")
        return json_response(200, {"data": version_view(found)})

    async def create(self, req: Request) -> Response:
        """Our own: {slug, name?, description?, config: {model, ...}, system_prompt?}."""
        key = await self.svc.auth.manager_key(req)
        body = await req.json(self.svc.settings.max_body_bytes)
        if not isinstance(body, dict):
            raise bad_request("request body must be a JSON object")
        slug = _slug(body.get("slug"))
        config = body.get("config") or {}
        if not isinstance(config, dict):
            raise bad_request("config must be an object", "config")
        system = body.get("system_prompt")
        if system is not None and not isinstance(system, str):
            raise bad_request("system_prompt must be a string", "system_prompt")
        for name in ("name", "description"):
            if body.get(name) is not None and not isinstance(body[name], str):
                raise bad_request(f"{name} must be a string", name)
        if await self.store.get(key.account_id, slug) is not None:
            raise GatewayError(409, f"preset '{slug}' exists; POST /presets/{slug}/chat/"
                               "completions adds a version", "conflict", {"field": "slug"})
        preset, version = await self.store.save(key.account_id, slug, body.get("name"),
                                                body.get("description"), config, system,
                                                key.hash)
        return json_response(201, {"data": preset_view(preset, version)})

    async def from_chat(self, req: Request) -> Response:
        return await self._from_request(req, lambda b: b)

    async def from_messages(self, req: Request) -> Response:
        return await self._from_request(req, messages.to_chat)

    async def from_responses(self, req: Request) -> Response:
        return await self._from_request(req, responses.to_chat)

    async def _from_request(self, req: Request, to_chat: Any) -> Response:
        key = await self.svc.auth.manager_key(req)
        slug = _slug(req.path_params["slug"])
        body = await req.json(self.svc.settings.max_body_bytes)
        if not isinstance(body, dict):
            raise bad_request("request body must be a JSON object")
        # a preset may be saved before any conversation exists: give translators one turn
        if "messages" not in body and "input" not in body:
            body = {**body, "messages": [{"role": "user", "content": "-"}], "input": "-"}
        chat = to_chat(body)
        config, system = config_from_chat(chat)
        preset, version = await self.store.save(key.account_id, slug, None, None, config,
                                                system, key.hash)
        return json_response(200, {"data": preset_view(preset, version)})
