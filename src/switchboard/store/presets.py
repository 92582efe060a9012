"""Preset queries: a preset per account and slug, every change a new numbered version."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from switchboard.store.repo import now_iso


@dataclass(frozen=True, slots=True)
class PresetVersion:
    id: str
    preset_id: str
    version: int
    system_prompt: str | None
    config: dict[str, Any]
    created_by: str | None
    created_at: str


@dataclass(frozen=True, slots=True)
class Preset:
    id: str
    account_id: str
    slug: str
    name: str
    description: str | None
    designated_version: int
    created_by: str | None
    created_at: str
    updated_at: str


def _version(row: dict[str, Any]) -> PresetVersion:
    return PresetVersion(row["id"], row["preset_id"], int(row["version"]), row["system_prompt"],
                         orjson.loads(row["config"]), row["created_by"], row["created_at"])


def _preset(row: dict[str, Any]) -> Preset:
    return Preset(row["id"], row["account_id"], row["slug"], row["name"], row["description"],
                  int(row["designated_version"]), row["created_by"], row["created_at"],
                  row["updated_at"])


class PresetStore:
    def __init__(self, db: Any) -> None:
        self.db = db

    async def get(self, account_id: str, slug: str) -> Preset | None:
        row = await self.db.fetchone(
            "SELECT * FROM presets WHERE account_id = $1 AND slug = $2", account_id, slug)
        return _preset(row) if row else None

    async def page(self, account_id: str, offset: int, limit: int) -> tuple[list[Preset], int]:
        rows = await self.db.fetchall(
            "SELECT * FROM presets WHERE account_id = $1 ORDER BY created_at, slug "
            "LIMIT $2 OFFSET $3", account_id, limit, offset)
        total = await self.db.fetchone(
            "SELECT COUNT(*) AS n FROM presets WHERE account_id = $1", account_id)
        return [_preset(r) for r in rows], int(total["n"] if total else 0)

    async def version(self, preset_id: str, version: int) -> PresetVersion | None:
        row = await self.db.fetchone(
            "SELECT * FROM preset_versions WHERE preset_id = $1 AND version = $2",
            preset_id, version)
        return _version(row) if row else None

    async def versions(self, preset_id: str, offset: int,
                       limit: int) -> tuple[list[PresetVersion], int]:
        rows = await self.db.fetchall(
            "SELECT * FROM preset_versions WHERE preset_id = $1 ORDER BY version "
            "LIMIT $2 OFFSET $3", preset_id, limit, offset)
        total = await self.db.fetchone(
            "SELECT COUNT(*) AS n FROM preset_versions WHERE preset_id = $1", preset_id)
        return [_version(r) for r in rows], int(total["n"] if total else 0)

    async def save(self, account_id: str, slug: str, name: str | None, description: str | None,
                   config: dict[str, Any], system_prompt: str | None,
                   created_by: str | None) -> tuple[Preset, PresetVersion]:
        """Create the preset, or add a version to it; the new version is the designated one."""
        now = now_iso()
        async with self.db.transaction() as tx:
            row = await tx.fetchone(
                "SELECT * FROM presets WHERE account_id = $1 AND slug = $2", account_id, slug)
            if row is None:
                preset_id, number = str(uuid.uuid4()), 1
                await tx.execute(
                    "INSERT INTO presets (id, account_id, slug, name, description, "
                    "designated_version, created_by, created_at, updated_at) "
                    "VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $7)",
                    preset_id, account_id, slug, name or slug, description, created_by, now)
            else:
                preset_id = row["id"]
                last = await tx.fetchone(
                    "SELECT MAX(version) AS v FROM preset_versions WHERE preset_id = $1",
                    preset_id)
                number = int(last["v"] or 0) + 1 if last else 1
                await tx.execute(
                    "UPDATE presets SET designated_version = $1, updated_at = $2, "
                    "name = COALESCE($3, name), description = COALESCE($4, description) "
                    "WHERE id = $5", number, now, name, description, preset_id)
            await tx.execute(
                "INSERT INTO preset_versions (id, preset_id, version, system_prompt, config, "
                "created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                str(uuid.uuid4()), preset_id, number, system_prompt,
                orjson.dumps(config).decode(), created_by, now)
        preset = await self.get(account_id, slug)
        version = await self.version(preset_id, number)
        assert preset is not None and version is not None
        return preset, version

    async def delete(self, account_id: str, slug: str) -> bool:
        preset = await self.get(account_id, slug)
        if preset is None:
            return False
        async with self.db.transaction() as tx:
            await tx.execute("DELETE FROM preset_versions WHERE preset_id = $1", preset.id)
            await tx.execute("DELETE FROM presets WHERE id = $1", preset.id)
        return True
