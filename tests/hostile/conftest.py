"""A real gateway serving only the simulator, plus a small-context model for middle-out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import GatewayServer

SIMULATOR_ONLY = """
builtin_catalog: false
models:
  - id: test/small-context
    name: Small context echo
    context_length: 8192
    endpoints:
      - provider: simulator
        model: echo
        pricing: {prompt: 0, completion: 0}
        context_length: 8192
        max_completion_tokens: 1024
        supported_parameters: [max_tokens, temperature, tools, tool_choice]
"""


@pytest.fixture()
def gw(tmp_path: Path) -> Iterator[GatewayServer]:
    server = GatewayServer(SIMULATOR_ONLY, tmp_path)
    yield server
    server.stop()


@pytest.fixture()
def key(gw: GatewayServer) -> str:
    return gw.new_key("hostile")
