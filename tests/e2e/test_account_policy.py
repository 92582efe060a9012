"""An account created with data_collection: deny never reaches providers that train."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support import GatewayServer, MockUpstream, Reply, openai_completion

CONFIG = """
builtin_catalog: false
providers:
  - {{name: trainer, api: openai, base_url: "{url}/trainer/v1", api_key: k, trains_on_data: true}}
  - {{name: private, api: openai, base_url: "{url}/private/v1", api_key: k}}
models:
  - id: acme/m
    context_length: 8000
    endpoints:
      - {{provider: trainer, model: m, pricing: {{prompt: 0.1, completion: 0.1}}}}
      - {{provider: private, model: m, pricing: {{prompt: 9, completion: 9}}}}
"""


def test_account_policy_deny_excludes_training_providers(upstream: MockUpstream,
                                                         tmp_path: Path) -> None:
    gw = GatewayServer(CONFIG.format(url=upstream.url), tmp_path)
    try:
        r = gw.admin("POST", "/accounts", json={"name": "careful", "data_collection": "deny"})
        assert r.status_code == 201 and r.json()["data"]["data_collection"] == "deny"
        account = r.json()["data"]["id"]
        gw.charge(5, account)
        key = gw.new_key("careful-key", account_id=account)
        upstream.script("/private/", *[Reply(json=openai_completion("ok"))] * 3)
        for _ in range(3):
            resp = httpx.post(f"{gw.base_url}/chat/completions",
                              headers={"Authorization": f"Bearer {key}"},
                              json={"model": "acme/m",
                                    "messages": [{"role": "user", "content": "x"}]})
            assert resp.status_code == 200, resp.text
            assert resp.headers["OpenRouter-Provider"] == "private"
        assert not upstream.hits("/trainer/")
        bad = gw.admin("POST", "/accounts", json={"name": "odd", "data_collection": "maybe"})
        assert bad.status_code == 400 and "data_collection" in bad.json()["error"]["message"]
    finally:
        gw.stop()
