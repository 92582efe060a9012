from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import GatewayServer, MockUpstream, mock_config


@pytest.fixture(scope="session")
def mock() -> Iterator[MockUpstream]:
    m = MockUpstream()
    yield m
    m.close()


@pytest.fixture()
def upstream(mock: MockUpstream) -> Iterator[MockUpstream]:
    mock.reset()
    yield mock
    mock.reset()


@pytest.fixture()
def gateway(upstream: MockUpstream, tmp_path: Path) -> Iterator[GatewayServer]:
    gw = GatewayServer(mock_config(upstream.url), tmp_path)
    gw.charge(100)
    yield gw
    gw.stop()
