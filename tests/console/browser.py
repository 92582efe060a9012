"""Headless Chromium (Debian's package, driven by Playwright) against a real gateway."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("SWITCHBOARD_CHROMIUM", "/usr/bin/chromium")


def chromium_path() -> str:
    path = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if not path:
        pytest.skip("no system Chromium: apt-get install -y chromium (.ci/run does)")
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), headless=True,
                              args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield b
        b.close()


def shots_dir(tmp: Path) -> Path:
    """SWITCHBOARD_SCREENSHOTS=docs/screenshots refreshes the committed pictures; otherwise
    they go to the test's temporary folder, so a test run leaves the tree clean."""
    wanted = os.environ.get("SWITCHBOARD_SCREENSHOTS")
    out = Path(wanted) if wanted else tmp / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    return out


UNLABELLED_JS = """() => [...document.querySelectorAll('input, select, textarea, button')]
  .filter(el => el.type !== 'hidden' && !el.closest('[hidden]'))
  .filter(el => el.tagName === 'BUTTON' ? !(el.textContent.trim() || el.getAttribute('aria-label'))
                : !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
  .map(el => el.outerHTML.slice(0, 120))"""
