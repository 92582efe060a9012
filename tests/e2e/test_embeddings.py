"""POST /embeddings and GET /embeddings/models: OpenAI's shapes through the openai and
openrouter SDKs, native dialects on the mock (OpenAI-compatible, Gemini, Cohere),
fallback, and billing per input token with the markup, to the last digit."""

from __future__ import annotations

import base64
import struct
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml
from openrouter import OpenRouter

from tests.e2e.dialect_support import MARKUP, PROVIDERS, gateway_config
from tests.e2e.test_openrouter_contract import response_schema, validate
from tests.support import GatewayServer, MockUpstream, Reply

OPENAI, MISTRAL, GEMINI, COHERE = (PROVIDERS[p] for p in ("openai", "mistral", "gemini",
                                                           "cohere"))
PRICE = Decimal("0.02")  # provider cost, USD per million input tokens
MODELS = {
    "emb/small": [("openai", "text-embedding-3-small"), ("mistral", "mistral-embed")],
    "emb/gemini": [("gemini", "gemini-embedding-001")],
    "emb/cohere": [("cohere", "embed-v4.0")],
}


@pytest.fixture(scope="module")
def gw(mock: MockUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayServer]:
    conf = yaml.safe_load(gateway_config(mock.url))
    conf["models"] += [
        {"id": mid, "name": mid, "context_length": 8192, "modality": "text->embeddings",
         "endpoints": [{"provider": p, "model": m, "pricing": {"prompt": str(PRICE)}}
                       for p, m in endpoints]}
        for mid, endpoints in MODELS.items()]
    server = GatewayServer(yaml.safe_dump(conf), Path(tmp_path_factory.mktemp("emb")))
    server.charge(10)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def key(gw: GatewayServer) -> str:
    return gw.new_key("embeddings")


@pytest.fixture()
def sdk(gw: GatewayServer, key: str, upstream: MockUpstream) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.base_url, api_key=key, max_retries=0, timeout=30)


def openai_vectors(vectors: list[list[float]], tokens: int) -> dict[str, Any]:
    return {"object": "list", "model": "text-embedding-3-small",
            "data": [{"object": "embedding", "index": i, "embedding": v}
                     for i, v in enumerate(vectors)],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


def cost(tokens: int, price: Decimal = PRICE) -> float:
    return float(tokens * price / 1_000_000 * (1 + MARKUP))


def _generation(gw: GatewayServer, key: str, gen_id: str) -> dict[str, Any]:
    r = httpx.get(f"{gw.base_url}/generation", params={"id": gen_id},
                  headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    return dict(r.json()["data"])


def test_openai_sdk_default_base64_round_trips(sdk: openai.OpenAI, upstream: MockUpstream,
                                               gw: GatewayServer, key: str) -> None:
    vectors = [[0.25, -0.5, 1.0], [0.125, 0.0, -1.0]]
    upstream.script(OPENAI.prefix, Reply(json=openai_vectors(vectors, 30)))
    texts = ["a" * 40, "b" * 40]
    raw = sdk.embeddings.with_raw_response.create(model="emb/small", input=texts)
    resp = raw.parse()  # the SDK asked for base64 and decoded it
    assert [d.embedding for d in resp.data] == vectors
    assert resp.usage.prompt_tokens == 30
    body = raw.http_response.json()
    validate(body, response_schema("/embeddings", "post"))
    assert isinstance(body["data"][0]["embedding"], str)
    assert body["usage"]["cost"] == cost(30)
    (hit,) = upstream.hits(OPENAI.prefix)
    assert hit["path"].endswith("/v1/embeddings")
    assert hit["body"] == {"model": "text-embedding-3-small", "input": texts,
                           "encoding_format": "float"}
    gen = _generation(gw, key, body["id"])
    assert gen["total_cost"] == body["usage"]["cost"] and gen["tokens_prompt"] == 30
    assert gen["model"] == "emb/small" and gen["provider_name"] == "Openai"


def test_float_dimensions_and_fallback(sdk: openai.OpenAI, upstream: MockUpstream) -> None:
    upstream.script(OPENAI.prefix, Reply(status=503, json={"error": {"message": "down"}}))
    upstream.script(MISTRAL.prefix, Reply(json=openai_vectors([[1.0, 0.0]], 7)))
    resp = sdk.embeddings.create(model="emb/small", input="hello", dimensions=2,
                                 encoding_format="float")
    assert resp.data[0].embedding == [1.0, 0.0]
    (hit,) = upstream.hits(MISTRAL.prefix)
    assert hit["body"]["dimensions"] == 2 and hit["body"]["input"] == ["hello"]


def test_gemini_native_dialect_counts_tokens_itself(sdk: openai.OpenAI,
                                                    upstream: MockUpstream) -> None:
    upstream.script(GEMINI.prefix, Reply(json={"embeddings": [{"values": [0.5, 0.5]},
                                                              {"values": [0.1, 0.2]}]}))
    resp = sdk.embeddings.create(model="emb/gemini", input=["abcdefgh", "xy"],
                                 encoding_format="float", dimensions=2)
    assert [d.embedding for d in resp.data] == [[0.5, 0.5], [0.1, 0.2]]
    assert resp.usage.prompt_tokens == 3  # two for 8 ASCII characters, one for 2
    (hit,) = upstream.hits(GEMINI.prefix)
    assert hit["path"] == "/gem/v1beta/models/gemini-embedding-001:batchEmbedContents"
    assert hit["headers"]["x-goog-api-key"] == GEMINI.api_key
    assert hit["body"]["requests"][1] == {"model": "models/gemini-embedding-001",
                                          "content": {"parts": [{"text": "xy"}]},
                                          "outputDimensionality": 2}


def test_cohere_native_dialect_bills_its_units(sdk: openai.OpenAI, upstream: MockUpstream,
                                               gw: GatewayServer, key: str) -> None:
    upstream.script(COHERE.prefix, Reply(json={
        "id": "e1", "embeddings": {"float": [[0.3, 0.4]]}, "texts": ["doc"],
        "meta": {"billed_units": {"input_tokens": 5}}}))
    raw = sdk.embeddings.with_raw_response.create(model="emb/cohere", input="doc",
                                                  encoding_format="float")
    body = raw.http_response.json()
    assert body["data"][0]["embedding"] == [0.3, 0.4] and body["usage"]["prompt_tokens"] == 5
    (hit,) = upstream.hits(COHERE.prefix)
    assert hit["path"] == "/coh/v2/embed"
    assert hit["body"] == {"model": "embed-v4.0", "texts": ["doc"],
                           "input_type": "search_document", "embedding_types": ["float"]}
    assert _generation(gw, key, body["id"])["total_cost"] == cost(5)


def test_token_arrays_go_only_where_they_are_understood(sdk: openai.OpenAI,
                                                        upstream: MockUpstream) -> None:
    upstream.script(OPENAI.prefix, Reply(json=openai_vectors([[1.0]], 3)))
    resp = sdk.embeddings.create(model="emb/small", input=[[1, 2, 3]],
                                 encoding_format="float")
    assert resp.data[0].embedding == [1.0]
    assert upstream.hits(OPENAI.prefix)[0]["body"]["input"] == [[1, 2, 3]]
    with pytest.raises(openai.NotFoundError, match="token-array"):
        sdk.embeddings.create(model="emb/gemini", input=[[1, 2, 3]])


@pytest.mark.parametrize(("body", "field"), [
    ({"model": "emb/small", "input": ""}, "input"),
    ({"model": "emb/small", "input": [1, "a"]}, "input"),
    ({"model": "emb/small", "input": "x", "encoding_format": "int8"}, "encoding_format"),
    ({"model": "emb/small", "input": "x", "dimensions": 0}, "dimensions"),
    ({"model": "e2e/openai", "input": "x"}, "model"),
])
def test_bad_requests_name_the_field(gw: GatewayServer, key: str, body: dict[str, Any],
                                     field: str) -> None:
    r = httpx.post(f"{gw.base_url}/embeddings", json=body,
                   headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["metadata"]["field"] == field


def test_an_upstream_count_beyond_the_hold_is_clamped(sdk: openai.OpenAI,
                                                      upstream: MockUpstream) -> None:
    upstream.script(OPENAI.prefix, Reply(json=openai_vectors([[1.0]], 1_000_000)))
    resp = sdk.embeddings.create(model="emb/small", input="tiny", encoding_format="float")
    assert resp.usage.prompt_tokens == 12  # 4 bytes + 8: never more than was held for


def test_a_failure_everywhere_costs_nothing(gw: GatewayServer, key: str,
                                            upstream: MockUpstream) -> None:
    before = httpx.get(f"{gw.base_url}/credits",
                       headers={"Authorization": f"Bearer {key}"}).json()["data"]
    down = Reply(status=503, json={"error": {"message": "down"}})
    upstream.script(OPENAI.prefix, down, down)
    upstream.script(MISTRAL.prefix, down, down)
    r = httpx.post(f"{gw.base_url}/embeddings", json={"model": "emb/small", "input": "x"},
                   headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 502
    after = httpx.get(f"{gw.base_url}/credits",
                      headers={"Authorization": f"Bearer {key}"}).json()["data"]
    assert after["total_usage"] == before["total_usage"]


def test_listing_and_the_openrouter_sdk(gw: GatewayServer, key: str,
                                        upstream: MockUpstream) -> None:
    r = gw.http.get("/embeddings/models")
    listed_ids = sorted(m["id"] for m in r.json()["data"])
    assert listed_ids == ["emb/cohere", "emb/gemini", "emb/small", "switchboard/embed"]
    assert r.json()["data"][0]["architecture"]["output_modalities"] == ["embeddings"]
    assert not [m for m in gw.http.get("/models").json()["data"] if m["id"].startswith("emb/")]
    upstream.script(OPENAI.prefix, Reply(json=openai_vectors([[0.5, 0.25]], 4)))
    with OpenRouter(api_key=key, server_url=gw.base_url) as client:
        listed = client.embeddings.list_models()
        assert listed is not None and len(listed.result.data) == 4
        out = client.embeddings.generate(model="emb/small", input="hi",
                                         encoding_format="base64")
    data = out.data[0].embedding  # type: ignore[union-attr]
    assert isinstance(data, str)
    assert list(struct.unpack("<2f", base64.b64decode(data))) == [0.5, 0.25]


def test_simulator_embeddings_offline(tmp_path: Path) -> None:
    gw = GatewayServer("builtin_catalog: false\n", tmp_path)
    try:
        key = gw.new_key()
        client = openai.OpenAI(base_url=gw.base_url, api_key=key, max_retries=0)
        a = client.embeddings.create(model="switchboard/embed", input=["same", "same", "other"])
        vectors = [d.embedding for d in a.data]
        assert len(vectors[0]) == 256 and vectors[0] == vectors[1] != vectors[2]
        assert abs(sum(v * v for v in vectors[0]) - 1) < 1e-5
    finally:
        gw.stop()
