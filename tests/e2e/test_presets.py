"""Presets: OpenRouter's routes and shapes (validated, parsed by its SDK), versions, and
`"model": "@preset/<slug>"` applied on chat, Responses and Messages with the request's own
fields winning."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openrouter import OpenRouter

from tests.e2e.test_openrouter_contract import response_schema, validate
from tests.support import GatewayServer, MockUpstream, Reply, mock_config, openai_completion


@pytest.fixture(scope="module")
def gw(mock: MockUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayServer]:
    server = GatewayServer(mock_config(mock.url), Path(tmp_path_factory.mktemp("presets")))
    server.charge(10)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def manager(gw: GatewayServer) -> str:
    r = gw.admin("POST", "/keys", json={"name": "prov", "provisioning": True})
    assert r.status_code == 201, r.text
    return str(r.json()["key"])


@pytest.fixture(scope="module")
def key(gw: GatewayServer) -> str:
    return gw.new_key("preset-user")


def call(gw: GatewayServer, key: str, method: str, path: str, **kw: Any) -> httpx.Response:
    return httpx.request(method, f"{gw.base_url}{path}", timeout=30,
                         headers={"Authorization": f"Bearer {key}"}, **kw)


def test_create_get_list_version_delete(gw: GatewayServer, manager: str, key: str) -> None:
    r = call(gw, manager, "POST", "/presets", json={
        "slug": "support", "name": "Support bot", "system_prompt": "Be kind.",
        "config": {"model": "test/gpt", "temperature": 0.2, "provider": {"order": ["beta"]}}})
    assert r.status_code == 201, r.text
    validate(r.json(), response_schema("/presets/{slug}/chat/completions", "post"))
    assert call(gw, manager, "POST", "/presets", json={"slug": "support"}).status_code == 409
    r = call(gw, manager, "GET", "/presets/support")
    validate(r.json(), response_schema("/presets/{slug}"))
    assert r.json()["data"]["designated_version"]["config"]["temperature"] == 0.2
    # a new version from a chat body: its settings and its system prompt
    r = call(gw, manager, "POST", "/presets/support/chat/completions", json={
        "model": "test/gpt", "temperature": 0.5, "max_tokens": 99,
        "messages": [{"role": "system", "content": "Be brief."},
                     {"role": "user", "content": "hi"}]})
    assert r.status_code == 200, r.text
    version = r.json()["data"]["designated_version"]
    assert version["version"] == 2 and version["system_prompt"] == "Be brief."
    assert version["config"] == {"model": "test/gpt", "temperature": 0.5, "max_tokens": 99}
    r = call(gw, manager, "GET", "/presets/support/versions")
    validate(r.json(), response_schema("/presets/{slug}/versions"))
    assert [v["version"] for v in r.json()["data"]] == [1, 2]
    r = call(gw, manager, "GET", "/presets/support/versions/1")
    validate(r.json(), response_schema("/presets/{slug}/versions/{version}"))
    assert r.json()["data"]["system_prompt"] == "Be kind."
    assert call(gw, manager, "GET", "/presets/support/versions/9").status_code == 404
    r = call(gw, manager, "GET", "/presets")
    validate(r.json(), response_schema("/presets"))
    assert [p["slug"] for p in r.json()["data"]] == ["support"]
    # an inference key cannot manage presets
    assert call(gw, key, "GET", "/presets").status_code == 403
    call(gw, manager, "POST", "/presets", json={"slug": "gone", "config": {"model": "test/gpt"}})
    assert call(gw, manager, "DELETE", "/presets/gone").status_code == 200
    assert call(gw, manager, "GET", "/presets/gone").status_code == 404


def test_openrouter_sdk_parses_presets(gw: GatewayServer, manager: str) -> None:
    call(gw, manager, "POST", "/presets", json={"slug": "sdk", "config": {"model": "test/gpt"}})
    with OpenRouter(api_key=manager, server_url=gw.base_url) as client:
        listed = client.presets.list()
        assert listed is not None and "sdk" in [p.slug for p in listed.result.data]
        got = client.presets.get(slug="sdk")
        assert got.data.designated_version is not None
        assert got.data.designated_version.config == {"model": "test/gpt"}
        made = client.presets.create_presets_chat_completions(
            slug="sdk", messages=[{"role": "user", "content": "x"}], model="test/gpt",
            temperature=0.9)
        assert made.data.designated_version is not None
        assert made.data.designated_version.version == 2
        assert client.presets.get_version(slug="sdk", version="1").data.version == 1


def test_preset_applies_with_request_overrides(gw: GatewayServer, manager: str, key: str,
                                               upstream: MockUpstream) -> None:
    call(gw, manager, "POST", "/presets", json={
        "slug": "applied", "system_prompt": "You are a pirate.",
        "config": {"model": "test/gpt", "temperature": 0.2, "max_tokens": 50,
                   "provider": {"order": ["beta"], "allow_fallbacks": False}}})
    upstream.script("/beta/", Reply(json=openai_completion("Arr")))
    client = openai.OpenAI(base_url=gw.base_url, api_key=key, max_retries=0)
    resp = client.chat.completions.create(
        model="@preset/applied", temperature=0.9,
        messages=[{"role": "user", "content": "hi"}])
    assert resp.choices[0].message.content == "Arr" and resp.model == "test/gpt"
    (hit,) = upstream.hits("/beta/")  # the preset's provider order chose beta
    sent = hit["body"]
    assert sent["temperature"] == 0.9 and sent["max_tokens"] == 50  # the request's own wins
    assert sent["messages"][0] == {"role": "system", "content": "You are a pirate."}
    assert "preset" not in sent and sent["model"] == "gpt-4o-mini-b"


def test_preset_on_responses_and_messages(gw: GatewayServer, manager: str, key: str,
                                          upstream: MockUpstream) -> None:
    call(gw, manager, "POST", "/presets", json={
        "slug": "both", "config": {"model": "test/gpt", "provider": {"only": ["alpha"]}}})
    upstream.script("/alpha/", Reply(json=openai_completion("one")),
                    Reply(json=openai_completion("two")))
    r = call(gw, key, "POST", "/responses", json={"model": "@preset/both", "input": "x"})
    assert r.status_code == 200, r.text
    assert r.json()["output"][0]["content"][0]["text"] == "one"
    r = httpx.post(f"{gw.base_url}/messages", timeout=30, headers={"x-api-key": key},
                   json={"model": "@preset/both", "max_tokens": 10,
                         "messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 200, r.text
    assert r.json()["content"][0]["text"] == "two"


def test_unknown_preset_is_404_and_versions_from_other_shapes(gw: GatewayServer, manager: str,
                                                              key: str) -> None:
    r = call(gw, key, "POST", "/chat/completions", json={
        "model": "@preset/nope", "messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 404 and "nope" in r.json()["error"]["message"]
    r = call(gw, manager, "POST", "/presets/shapes/responses", json={
        "model": "test/gpt", "instructions": "Short answers.", "max_output_tokens": 20,
        "input": "x"})
    assert r.status_code == 200, r.text
    version = r.json()["data"]["designated_version"]
    assert version["system_prompt"] == "Short answers."
    assert version["config"] == {"model": "test/gpt", "max_tokens": 20}
    r = call(gw, manager, "POST", "/presets/shapes/messages", json={
        "model": "test/gpt", "system": "Anthropic style.", "max_tokens": 30,
        "messages": [{"role": "user", "content": "x"}]})
    version = r.json()["data"]["designated_version"]
    assert version["version"] == 2 and version["system_prompt"] == "Anthropic style."
    assert version["config"] == {"model": "test/gpt", "max_tokens": 30}
    assert call(gw, manager, "POST", "/presets", json={"slug": "Bad Slug!"}).status_code == 400


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_store_versions_on_both_databases(kind: str, tmp_path: Path) -> None:
    import secrets

    import asyncpg

    from switchboard.store import db as dbmod
    from switchboard.store import migrations
    from switchboard.store.presets import PresetStore

    name = f"sb_presets_{secrets.token_hex(4)}"
    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    if kind == "postgresql":
        conn = await asyncpg.connect(admin)
        await conn.execute(f"CREATE DATABASE {name}")
        await conn.close()
        url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    else:
        url = f"sqlite:///{tmp_path}/p.db"
    database = await dbmod.connect(url)
    try:
        await migrations.upgrade(database)
        store = PresetStore(database)
        p1, v1 = await store.save("acct", "s", "S", None, {"model": "a/b"}, "sys", "k")
        p2, v2 = await store.save("acct", "s", None, "desc", {"model": "a/c"}, None, "k")
        assert (v1.version, v2.version, p2.designated_version) == (1, 2, 2)
        assert p2.id == p1.id and p2.name == "S" and p2.description == "desc"
        versions, total = await store.versions(p1.id, 0, 10)
        assert total == 2 and [v.config["model"] for v in versions] == ["a/b", "a/c"]
        presets, count = await store.page("acct", 0, 10)
        assert count == 1 and presets[0].slug == "s"
        assert await store.get("other", "s") is None  # presets belong to one account
        assert await store.delete("acct", "s") and await store.get("acct", "s") is None
    finally:
        await database.close()
        if kind == "postgresql":
            conn = await asyncpg.connect(admin)
            await conn.execute(f"DROP DATABASE {name}")
            await conn.close()
