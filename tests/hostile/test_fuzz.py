"""Schemathesis against the running server, driven by our own OpenAPI description.

Every endpoint in `switchboard.api.openapi.OPERATIONS` gets generated requests, valid and
invalid; the server must never answer 5xx, never hang, and always answer in the declared
shape and content type. The budget is bounded (FUZZ_EXAMPLES per operation) so the whole
run stays well under a minute.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from switchboard.api.openapi import document
from tests.hostile.conftest import SIMULATOR_ONLY
from tests.support import GatewayServer

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
schema = schemathesis.openapi.from_dict(document())


@pytest.fixture(scope="module")
def fuzz_gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayServer]:
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    server = GatewayServer(SIMULATOR_ONLY, tmp)
    server.charge(10)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def fuzz_key(fuzz_gw: GatewayServer) -> str:
    return fuzz_gw.new_key("fuzz")


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
def test_no_5xx_no_hang_declared_shapes(
    case: schemathesis.Case, fuzz_gw: GatewayServer, fuzz_key: str
) -> None:
    case.call_and_validate(
        base_url=f"http://127.0.0.1:{fuzz_gw.port}",
        headers={"Authorization": f"Bearer {fuzz_key}"},
        timeout=10,
        checks=[not_a_server_error, content_type_conformance, response_schema_conformance],
    )
