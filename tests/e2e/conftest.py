from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.dialect_support import Client, gateway_config
from tests.support import GatewayServer, MockUpstream


@pytest.fixture(scope="module")
def dialect_gw(
    mock: MockUpstream, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[GatewayServer]:
    """One gateway per test module with a provider of every dialect pointing at the mock;
    a module adds catalog models with `EXTRA_MODELS = {id: (provider, upstream model)}`."""
    extra = getattr(request.module, "EXTRA_MODELS", {})
    gw = GatewayServer(gateway_config(mock.url, extra), tmp_path_factory.mktemp("gw"))
    gw.charge(100)
    yield gw
    gw.stop()


@pytest.fixture(scope="module")
def dialect_key(dialect_gw: GatewayServer) -> str:
    return dialect_gw.new_key("dialects")


@pytest.fixture()
def gw_client(dialect_gw: GatewayServer, dialect_key: str, upstream: MockUpstream) -> Client:
    """An openai SDK client on the module's gateway; the mock is reset around each test."""
    return Client(dialect_gw, dialect_key)
