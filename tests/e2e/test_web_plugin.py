"""The web plugin (`:online`, plugins: [{id: web}]) against a mock search engine."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import openai
import pytest

from tests.support import GatewayServer, MockUpstream, Reply, mock_config, openai_completion

EXA = {"results": [
    {"title": "Paris - Wikipedia", "url": "https://en.wikipedia.org/wiki/Paris",
     "text": "Paris is the capital of France."},
    {"title": "Visit Paris", "url": "https://parisjetaime.com/", "text": "Tourism site."},
]}


@pytest.fixture()
def web_gateway(upstream: MockUpstream, tmp_path: Path) -> Iterator[GatewayServer]:
    extra = f"""
web_search:
  engine: exa
  base_url: {upstream.url}/exa
  api_key: exa-key
  price_per_search: 0.004
"""
    gw = GatewayServer(mock_config(upstream.url) + extra, tmp_path)
    gw.charge(10)
    yield gw
    gw.stop()


def test_online_variant_searches_injects_results_cites_and_charges(
    web_gateway: GatewayServer, upstream: MockUpstream
) -> None:
    upstream.script("/exa/", Reply(json=EXA))
    upstream.script("/alpha/", Reply(json=openai_completion(
        "Paris [wikipedia.org](https://en.wikipedia.org/wiki/Paris)", prompt=100, completion=10)))
    c = openai.OpenAI(base_url=web_gateway.base_url, api_key=web_gateway.new_key(),
                      max_retries=0)
    raw = c.chat.completions.with_raw_response.create(
        model="test/gpt:online", messages=[{"role": "user", "content": "capital of France?"}],
        extra_body={"provider": {"only": ["alpha"]}})
    body = raw.http_response.json()
    search = upstream.hits("/exa/")[0]
    assert search["body"]["query"] == "capital of France?"
    assert search["headers"]["x-api-key"] == "exa-key"
    sent = upstream.hits("/alpha/")[0]["body"]["messages"]
    assert sent[-1] == {"role": "user", "content": "capital of France?"}
    assert "https://en.wikipedia.org/wiki/Paris" in sent[-2]["content"]
    notes = body["choices"][0]["message"]["annotations"]
    assert [n["url_citation"]["url"] for n in notes] == [r["url"] for r in EXA["results"]]
    # tokens at 0.15 / 0.6 per million plus one search at $0.004, all with the 10 % markup
    expected = (Decimal(100) * Decimal("0.15") / 10**6 + Decimal(10) * Decimal("0.6") / 10**6
                + Decimal("0.004")) * Decimal("1.1")
    assert Decimal(raw.http_response.headers["OpenRouter-Cost"]) == expected


def test_plugin_spelling_streams_annotations(web_gateway: GatewayServer,
                                             upstream: MockUpstream) -> None:
    from tests.support import openai_stream

    upstream.script("/exa/", Reply(json=EXA))
    upstream.script("/alpha/", Reply(sse=openai_stream(["Paris", "."])))
    c = openai.OpenAI(base_url=web_gateway.base_url, api_key=web_gateway.new_key(),
                      max_retries=0)
    chunks = list(c.chat.completions.create(
        model="test/gpt", messages=[{"role": "user", "content": "capital?"}], stream=True,
        extra_body={"plugins": [{"id": "web", "max_results": 1}],
                    "provider": {"only": ["alpha"]}}))
    notes = [a for ch in chunks for choice in ch.choices
             for a in (choice.delta.model_extra or {}).get("annotations") or []]
    assert len(notes) == 1  # trimmed to max_results, whatever the engine returns
    assert upstream.hits("/exa/")[0]["body"]["numResults"] == 1


def test_failed_search_answers_without_results_and_no_search_charge(
    web_gateway: GatewayServer, upstream: MockUpstream
) -> None:
    upstream.script("/exa/", Reply(status=500, json={"error": "down"}))
    upstream.script("/alpha/", Reply(json=openai_completion("ok", prompt=10, completion=1)))
    key = web_gateway.new_key()
    r = httpx.post(f"{web_gateway.base_url}/chat/completions",
                   headers={"Authorization": f"Bearer {key}"},
                   json={"model": "test/gpt:online", "provider": {"only": ["alpha"]},
                         "messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 200
    assert "annotations" not in r.json()["choices"][0]["message"]
    assert Decimal(r.headers["OpenRouter-Cost"]) < Decimal("0.004")


def test_without_an_engine_web_search_is_a_clear_400(gateway: GatewayServer) -> None:
    key = gateway.new_key()
    r = httpx.post(f"{gateway.base_url}/chat/completions",
                   headers={"Authorization": f"Bearer {key}"},
                   json={"model": "test/gpt:online",
                         "messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 400 and "web_search" in r.json()["error"]["message"]
