"""Model lookups: /models filters and paging, /model/{author}/{slug}, /models/count, /user."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_openrouter_contract import response_schema, sdk, validate
from tests.support import GatewayServer, MockUpstream

CONFIG = """
builtin_catalog: false
simulator: false
providers:
  - {name: alpha, api: openai, base_url: "http://127.0.0.1:9/v1", api_key: sk-a}
  - {name: trainer, api: openai, base_url: "http://127.0.0.1:9/v1", api_key: sk-t,
     trains_on_data: true}
models:
  - id: acme/chat
    name: Acme Chat
    context_length: 8000
    modality: text+image->text
    categories: [programming]
    endpoints:
      - {provider: alpha, model: chat, pricing: {prompt: 1, completion: 2},
         supported_parameters: [tools, temperature, max_tokens]}
  - id: acme/plain
    name: Acme Plain
    context_length: 8000
    endpoints:
      - {provider: alpha, model: plain, supported_parameters: [temperature]}
  - id: acme/trained
    name: Acme Trained
    context_length: 8000
    endpoints:
      - {provider: trainer, model: trained, supported_parameters: [temperature]}
  - id: acme/chat:free
    name: Acme Chat (free)
    context_length: 8000
    endpoints:
      - {provider: alpha, model: chat, supported_parameters: [temperature]}
  - id: acme/embed
    name: Acme Embed
    context_length: 8000
    modality: text->embeddings
    endpoints:
      - {provider: alpha, model: embed, pricing: {prompt: 0.02}}
"""


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayServer]:
    server = GatewayServer(CONFIG, Path(tmp_path_factory.mktemp("lookups")))
    yield server
    server.stop()


def _ids(gw: GatewayServer, **params: str) -> list[str]:
    r = gw.http.get("/models", params=params)
    assert r.status_code == 200, r.text
    validate(r.json(), response_schema("/models"))
    return [m["id"] for m in r.json()["data"]]


def test_models_default_lists_text_output_only(gw: GatewayServer) -> None:
    assert _ids(gw) == ["acme/chat", "acme/plain", "acme/trained", "acme/chat:free",
                        "openrouter/auto", "openrouter/free"]
    assert "acme/embed" in _ids(gw, output_modalities="all")
    assert _ids(gw, output_modalities="embeddings") == ["acme/embed"]


def test_models_filters(gw: GatewayServer) -> None:
    assert _ids(gw, supported_parameters="tools") == ["acme/chat"]
    assert _ids(gw, supported_parameters="tools,temperature") == ["acme/chat"]
    assert _ids(gw, input_modalities="image") == ["acme/chat"]
    assert _ids(gw, category="programming") == ["acme/chat"]
    assert _ids(gw, q="plain") == ["acme/plain"]


def test_models_paging_with_the_official_sdk(gw: GatewayServer, mock: MockUpstream) -> None:
    r = gw.http.get("/models", params={"limit": 2, "offset": 1})
    body = r.json()
    assert [m["id"] for m in body["data"]] == ["acme/plain", "acme/trained"]
    assert body["total_count"] == 6  # the catalog's four, then openrouter/auto and /free
    seen: list[str] = []
    with sdk(gw, "unused") as client:
        page = client.models.list(limit=3)
        while page is not None:  # the SDK stops at the first short page
            seen += [m.id for m in page.result.data]
            page = page.next()
    assert seen == ["acme/chat", "acme/plain", "acme/trained", "acme/chat:free",
                    "openrouter/auto", "openrouter/free"]


@pytest.mark.parametrize(("params", "field"), [
    ({"limit": "0"}, "limit"), ({"limit": "5000"}, "limit"), ({"offset": "-1"}, "offset"),
    ({"limit": "ten"}, "limit"),
])
def test_bad_paging_is_a_400_naming_the_field(gw: GatewayServer, params: dict[str, str],
                                              field: str) -> None:
    r = gw.http.get("/models", params=params)
    assert r.status_code == 400
    assert r.json()["error"]["metadata"]["field"] == field


def test_one_model_and_count(gw: GatewayServer) -> None:
    r = gw.http.get("/model/acme/chat")
    assert r.status_code == 200
    validate(r.json(), response_schema("/model/{author}/{slug}"))
    assert r.json()["data"]["pricing"]["prompt"] == "0.0000011"
    assert gw.http.get("/model/acme/chat:nitro").json()["data"]["id"] == "acme/chat"
    assert gw.http.get("/model/acme/chat:free").json()["data"]["id"] == "acme/chat:free"
    assert gw.http.get("/model/acme/nope").status_code == 404
    r = gw.http.get("/models/count")
    validate(r.json(), response_schema("/models/count"))
    assert r.json() == {"data": {"count": 6}}  # openrouter/auto and /free included
    assert gw.http.get("/models/count", params={"output_modalities": "all"}).json()[
        "data"]["count"] == 7
    with sdk(gw, "unused") as client:
        assert client.models.count().data.count == 6
        assert client.models.get(author="acme", slug="chat").data.id == "acme/chat"


def test_models_user_follows_the_account_data_policy(gw: GatewayServer) -> None:
    key = gw.new_key("user-models")
    headers = {"Authorization": f"Bearer {key}"}
    r = gw.http.get("/models/user", headers=headers)
    assert r.status_code == 200
    validate(r.json(), response_schema("/models/user"))
    assert len(r.json()["data"]) == 4
    assert gw.http.get("/models/user").status_code == 401
    r = gw.admin("POST", "/accounts", json={"name": "private", "data_collection": "deny"})
    deny_key = gw.new_key("deny", account_id=r.json()["data"]["id"])
    r = httpx.get(f"{gw.base_url}/models/user", headers={"Authorization": f"Bearer {deny_key}"})
    # no provider that trains on prompts, and never a :free model
    assert [m["id"] for m in r.json()["data"]] == ["acme/chat", "acme/plain"]
