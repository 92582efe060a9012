from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import MockUpstream


@pytest.fixture()
def upstream(mock: MockUpstream) -> Iterator[MockUpstream]:
    mock.reset()
    yield mock
    mock.reset()
