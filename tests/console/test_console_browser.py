"""The console in a real browser: sign in, make a key and use it with the OpenAI SDK, find
the request in activity with its cost and stored prompt, turn logging off, disable the key,
run the playground, and visit every page (screenshots of each)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.console.browser import UNLABELLED_JS, browser, shots_dir
from tests.support import (
    GatewayServer,
    MockUpstream,
    Reply,
    openai_completion,
    openai_stream,
)

__all__ = ["browser"]

# test/gpt on alpha: $0.15 / $0.60 per million tokens, +10 % markup;
# 10 prompt + 5 completion tokens -> (1.5 + 3.0) µ$ × 1.1 = $0.00000495
COST = "$0.00000495"


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    p = context.new_page()
    p.set_default_timeout(10_000)
    yield p
    context.close()


def origin(gw: GatewayServer) -> str:
    return f"http://127.0.0.1:{gw.port}"


def go(page: Any, gw: GatewayServer, where: str) -> None:
    page.goto(f"{origin(gw)}/#/{where}")
    page.wait_for_selector("main h1")


def snap(page: Any, out: Path, name: str) -> None:
    assert page.evaluate(UNLABELLED_JS) == [], f"unlabelled controls on {name}"
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(out / f"{name}.png"), full_page=True)


def sign_in(page: Any, gw: GatewayServer, key: str) -> None:
    page.goto(origin(gw) + "/")
    page.get_by_label("API key, provisioning key or root key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("[data-testid=key-kind]")


def test_console_end_to_end(gateway: GatewayServer, upstream: MockUpstream, page: Any,
                            tmp_path: Path) -> None:
    gw = gateway
    out = shots_dir(tmp_path)
    page.goto(origin(gw) + "/")
    page.wait_for_selector("[data-testid=signin-key]")
    snap(page, out, "signin")
    sign_in(page, gw, gw.admin_key)
    assert page.inner_text("[data-testid=key-kind]") == "root key"

    # a key made in the console, used with the OpenAI SDK
    go(page, gw, "keys")
    page.get_by_label("Name", exact=True).fill("sdk key")
    page.get_by_role("button", name="Create key").click()
    key = page.input_value("[data-testid=new-key]")
    assert key.startswith("sk-sb-v1-")
    client = openai.OpenAI(base_url=gw.base_url, api_key=key, max_retries=0)
    upstream.script("/alpha/", Reply(json=openai_completion("Paris.", prompt=10, completion=5)))
    first = client.chat.completions.create(
        model="test/gpt", messages=[{"role": "user", "content": "Capital of France? (kept)"}])
    assert first.choices[0].message.content == "Paris."

    # it shows in activity with its cost; its detail has the stored prompt
    go(page, gw, "activity")
    row = page.locator(f"tr[data-id='{first.id}']")
    row.wait_for()
    assert row.locator("[data-testid=cost]").inner_text() == COST
    assert page.inner_text("[data-testid=total-requests]") == "1"
    snap(page, out, "activity")
    row.get_by_role("link").click()
    page.wait_for_selector("[data-testid=g-prompt]")
    assert page.inner_text("[data-testid=g-cost]") == COST
    assert "Capital of France? (kept)" in page.inner_text("[data-testid=g-prompt]")
    assert page.inner_text("[data-testid=g-completion]") == "Paris."
    assert page.inner_text("[data-testid=g-provider]") == "Alpha"
    snap(page, out, "generation")

    # logging off in settings: the next request is kept without content
    go(page, gw, "settings")
    page.get_by_label("Store prompts and completions").uncheck()
    page.get_by_role("button", name="Save settings").click()
    page.get_by_text("Settings saved.").first.wait_for()
    snap(page, out, "settings")
    upstream.script("/alpha/", Reply(json=openai_completion("Berlin.", prompt=10, completion=5)))
    second = client.chat.completions.create(
        model="test/gpt", messages=[{"role": "user", "content": "Capital of Germany? (dropped)"}])
    go(page, gw, f"generation/{second.id}")
    page.wait_for_selector("[data-testid=g-content] .notice")
    assert "content logging was off" in page.inner_text("[data-testid=g-content]")
    assert page.inner_text("[data-testid=g-cost]") == COST

    # disable the key: the next request is refused
    go(page, gw, "keys")
    key_row = page.locator("tr[data-key='sdk key']")
    key_row.get_by_role("button", name="Disable").click()
    key_row.get_by_text("disabled").wait_for()
    snap(page, out, "keys")
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="test/gpt",
                                       messages=[{"role": "user", "content": "refused"}])

    # the playground streams an answer with another key
    play_key = gw.new_key("playground")
    upstream.script("/alpha/", Reply(sse=openai_stream(["The answer ", "is 42."], 10, 5)))
    go(page, gw, "playground")
    page.fill("[data-testid=play-key]", play_key)
    page.fill("[data-testid=play-model]", "test/gpt")
    page.fill("[data-testid=play-prompt]", "What is the answer?")
    page.click("[data-testid=play-send]")
    page.wait_for_selector("[data-testid=play-cost]")
    assert page.inner_text("[data-testid=play-output]") == "The answer is 42."
    assert page.inner_text("[data-testid=play-provider]") in ("Alpha", "alpha")
    assert page.inner_text("[data-testid=play-cost]") == COST
    assert page.inner_text("[data-testid=play-completion-tokens]") == "5"
    snap(page, out, "playground")

    # credits: root adds some, the history lists them
    go(page, gw, "credits")
    page.fill("[data-testid=charge-amount]", "25")
    page.get_by_role("button", name="Add credits").click()
    page.get_by_text("Added $25.00.").wait_for()
    page.locator("[data-testid=charges] tbody tr").nth(1).wait_for()
    assert page.locator("[data-testid=charges] tbody tr").count() == 2
    snap(page, out, "credits")

    # models: search, then one model's endpoints with health
    go(page, gw, "models")
    page.fill("[data-testid=model-search]", "test/gpt")
    page.get_by_role("link", name="Test GPT").click()
    page.wait_for_selector("[data-testid=endpoints] tbody tr")
    assert page.locator("[data-testid=endpoints] tbody tr").count() == 2
    text = page.inner_text("[data-testid=endpoints]")
    assert "$0.165" in text and "$0.66" in text  # $0.15 and $0.60 with the 10 % markup
    snap(page, out, "model")
    go(page, gw, "models")
    snap(page, out, "models")


def test_inference_key_sees_its_own_usage_on_a_phone(gateway: GatewayServer, browser: Any,
                                                     tmp_path: Path) -> None:
    gw = gateway
    out = shots_dir(tmp_path)
    mine, other = gw.new_key("mine"), gw.new_key("other")
    for key in (mine, mine, other):
        openai.OpenAI(base_url=gw.base_url, api_key=key, max_retries=0).chat.completions.create(
            model="test/gpt", messages=[{"role": "user", "content": "hi"}],
            extra_headers={"X-Title": "Phone app"})
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        sign_in(page, gw, mine)
        assert page.inner_text("[data-testid=key-kind]") == "inference key"
        page.wait_for_selector("[data-testid=generations] tbody tr")
        assert page.locator("[data-testid=generations] tbody tr").count() == 2
        assert page.inner_text("[data-testid=total-requests]") == "2"
        page.select_option("[data-testid=breakdown]", "app")
        assert "Phone app" in page.inner_text("main")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, "the page scrolls sideways on a phone"
        snap(page, out, "activity-phone")
        go(page, gw, "settings")
        assert "provisioning key" in page.inner_text("main")
    finally:
        context.close()
