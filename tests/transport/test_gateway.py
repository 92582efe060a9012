"""The transport settings through the real gateway: a provider's own CA from the config,
and an upstream answer over the configured body cap failing over like any bad answer."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trustme

from switchboard.config import ConfigError, parse_text
from tests.support import GatewayServer, MockUpstream, Reply, openai_completion, openai_stream


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def tls_mock(ca: trustme.CA) -> Iterator[MockUpstream]:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(ctx)
    m = MockUpstream(ctx)
    yield m
    m.close()


def config(secure_url: str, plain_url: str, tls: str, extra: str = "") -> str:
    return f"""
builtin_catalog: false
{extra}
providers:
  - name: private
    api: openai
    base_url: {secure_url}/private/v1
    api_key: sk-private
    timeouts: {{connect: 2, first_token: 5, idle: 5}}
    {tls}
  - name: public
    api: openai
    base_url: {plain_url}/public/v1
    api_key: sk-public
models:
  - id: test/tls
    context_length: 8000
    endpoints:
      - {{provider: private, model: m, pricing: {{prompt: 1, completion: 1}}}}
      - {{provider: public, model: m, pricing: {{prompt: 2, completion: 2}}}}
"""


ORDER = {"order": ["private", "public"]}  # the default pick among endpoints is weighted random


def chat(gw: GatewayServer, key: str) -> httpx.Response:
    return gw.http.post("/chat/completions", headers={"Authorization": f"Bearer {key}"},
                        json={"model": "test/tls", "provider": ORDER,
                              "messages": [{"role": "user", "content": "hi"}]})


def run(cfg: str, tmp_path: Path) -> tuple[GatewayServer, str]:
    gw = GatewayServer(cfg, tmp_path)
    gw.charge(10)
    return gw, gw.new_key()


def test_a_provider_behind_a_private_ca_is_reached_with_its_tls_ca_file(
    ca: trustme.CA, tls_mock: MockUpstream, upstream: MockUpstream, tmp_path: Path
) -> None:
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    gw, key = run(config(tls_mock.url, upstream.url, f"tls: {{ca_file: {ca_file}}}"), tmp_path)
    try:
        r = chat(gw, key)
        assert r.status_code == 200, r.text
        assert r.headers["openrouter-provider"] == "private"
        assert tls_mock.hits("/private/")
    finally:
        gw.stop()


def test_without_the_ca_the_handshake_fails_and_the_request_falls_back(
    tls_mock: MockUpstream, upstream: MockUpstream, tmp_path: Path
) -> None:
    tls_mock.reset()
    gw, key = run(config(tls_mock.url, upstream.url, ""), tmp_path)
    try:
        r = chat(gw, key)
        assert r.status_code == 200 and r.headers["openrouter-provider"] == "public"
        assert not tls_mock.hits("/private/")
    finally:
        gw.stop()


def test_an_answer_over_the_body_cap_is_an_upstream_failure(
    upstream: MockUpstream, tmp_path: Path
) -> None:
    upstream.script("/private/", Reply(json=openai_completion("x" * 50_000)))
    upstream.script("/public/", Reply(json=openai_completion("small")))
    cfg = config(upstream.url, upstream.url, "", "upstream: {max_body_mb: 0.02}")
    gw, key = run(cfg, tmp_path)
    try:
        r = chat(gw, key)
        assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "small"
        assert r.headers["openrouter-provider"] == "public"
        upstream.script("/private/", Reply(json=openai_completion("x" * 50_000)))
        upstream.script("/public/", Reply(json=openai_completion("y" * 50_000)))
        r = chat(gw, key)
        assert r.status_code == 502, r.text
        assert "max_body_mb" in r.json()["error"]["message"]
    finally:
        gw.stop()


def test_config_tls_and_upstream_sections(tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text("x")
    conf, _ = parse_text(f"""
upstream: {{max_body_mb: 8, max_line_kb: 256, max_connections_per_origin: 32,
           keepalive_expiry_s: 5}}
providers:
  - {{name: p, api: openai, base_url: "https://x", tls: {{ca_file: {ca_file}, verify: true}}}}
""", "cfg.yaml")
    assert conf.upstream.max_connections_per_origin == 32
    assert conf.providers[0].tls is not None and conf.providers[0].tls.ca_file == str(ca_file)
    with pytest.raises(ConfigError, match=r"line 3: providers\[0\]\.tls\.ca_file: .*no such"):
        parse_text("providers:\n  - name: p\n    tls: {ca_file: /nope.pem}\n    api: openai\n",
                   "cfg.yaml")
    with pytest.raises(ConfigError, match="key_file needs cert_file"):
        parse_text(f"providers: [{{name: p, api: openai, tls: {{key_file: {ca_file}}}}}]", "c")
    with pytest.raises(ConfigError, match="max_connections_per_origin"):
        parse_text("upstream: {max_connections_per_origin: 0}", "cfg.yaml")


def test_a_stream_line_over_the_cap_fails_over_before_any_content(
    upstream: MockUpstream, tmp_path: Path
) -> None:
    huge = {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": {"content": "z" * 20_000}, "finish_reason": None}]}
    upstream.script("/private/", Reply(sse=[huge, *openai_stream(["never"])]))
    upstream.script("/public/", Reply(sse=openai_stream(["fine"])))
    gw, key = run(config(upstream.url, upstream.url, "", "upstream: {max_line_kb: 8}"), tmp_path)
    try:
        with gw.http.stream(
            "POST", "/chat/completions", headers={"Authorization": f"Bearer {key}"},
            json={"model": "test/tls", "stream": True, "provider": ORDER,
                  "messages": [{"role": "user", "content": "hi"}]},
        ) as r:
            text = r.read().decode()
        assert r.status_code == 200 and r.headers["openrouter-provider"] == "public"
        assert '"fine"' in text and "never" not in text and "zzzz" not in text
    finally:
        gw.stop()
