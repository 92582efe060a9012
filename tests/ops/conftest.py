from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.ops.support import LogCapture


@pytest.fixture()
def logs() -> Iterator[LogCapture]:
    with LogCapture() as cap:
        yield cap
