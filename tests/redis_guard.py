"""Redis databases the suite may use: never wipe data the suite did not create.

A test claims a database only when it is empty or carries the marker the suite leaves in it;
anything else belongs to someone else and the test is skipped, naming the database.
"""

from __future__ import annotations

from typing import Any

import pytest

MARKER = "switchboard-test-suite:owned"


def claim(client: Any, url: str) -> None:
    """Empty `client`'s database for a test, if it is ours to empty (sync redis client)."""
    if client.dbsize() and not client.exists(MARKER):
        pytest.skip(f"{url} holds keys the test suite did not create; it is left untouched "
                    "(run the tests against a Redis whose databases 12, 14 and 15 are free)")
    client.flushdb()
    client.set(MARKER, "1")


async def claim_async(client: Any, url: str) -> None:
    if await client.dbsize() and not await client.exists(MARKER):
        pytest.skip(f"{url} holds keys the test suite did not create; it is left untouched "
                    "(run the tests against a Redis whose databases 12, 14 and 15 are free)")
    await client.flushdb()
    await client.set(MARKER, "1")
