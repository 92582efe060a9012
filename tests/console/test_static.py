"""The console's files: served at / and /console/*, with their types, a strict CSP, and
revalidation by ETag."""

from __future__ import annotations

import httpx

from tests.support import GatewayServer


def test_console_files_are_served_with_types_and_policy(gateway: GatewayServer) -> None:
    root = f"http://127.0.0.1:{gateway.port}"
    page = httpx.get(f"{root}/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert '<script type="module" src="/console/app.js">' in page.text
    script = httpx.get(f"{root}/console/app.js")
    assert script.headers["content-type"].startswith("text/javascript")
    again = httpx.get(f"{root}/console/app.js", headers={"If-None-Match": script.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert httpx.get(f"{root}/console/console.css").headers["content-type"].startswith("text/css")
    missing = httpx.get(f"{root}/console/nope.js")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == 404
    providers = httpx.get(f"{root}/console/model-providers.json").json()["data"]
    assert providers["test/gpt"] == ["alpha", "beta"]
