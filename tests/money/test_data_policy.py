"""store_content: false keeps no prompt or completion anywhere; stored content is purged
after retain_days."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from switchboard.store import db as dbmod
from switchboard.store.repo import Repo
from tests.money.conftest import Backend, Start
from tests.money.util import auth, money_config, user
from tests.support import GatewayServer, MockUpstream, Reply, openai_completion, openai_stream


def produce(gw: GatewayServer, upstream: MockUpstream, key: str, secret_in: str,
            secret_out: str) -> list[str]:
    """A plain, a streamed and a legacy request carrying the secrets both ways."""
    upstream.script(
        "/acme/",
        Reply(json=openai_completion(f"reply {secret_out}")),
        Reply(sse=openai_stream(["stream ", secret_out])),
        Reply(json=openai_completion(f"legacy {secret_out}")),
    )
    ids = []
    r = gw.http.post("/chat/completions", headers=auth(key), json={
        "model": "test/priced", "messages": [{"role": "system", "content": f"sys {secret_in}"},
                                             *user(f"hello {secret_in}")]})
    assert r.status_code == 200, r.text
    ids.append(r.json()["id"])
    with gw.http.stream("POST", "/chat/completions", headers=auth(key), json={
            "model": "test/priced", "messages": user(f"stream {secret_in}"),
            "stream": True}) as s:
        assert s.status_code == 200
        ids.append(s.headers["x-generation-id"])
        assert secret_out in s.read().decode()
    r = gw.http.post("/completions", headers=auth(key), json={
        "model": "test/priced", "prompt": f"legacy {secret_in}"})
    assert r.status_code == 200, r.text
    ids.append(r.json()["id"])
    assert gw.http.get("/credits", headers=auth(key)).status_code == 200  # flush the ledger
    return ids


def secrets_pair() -> tuple[str, str]:
    return f"ZEBRA-QUOKKA-{secrets.token_hex(8)}", f"MARMOT-OKAPI-{secrets.token_hex(8)}"


def test_store_content_false_stores_no_prompt_or_completion(
    start: Start, upstream: MockUpstream, backend: Backend
) -> None:
    gw = start(money_config(upstream.url, store_content=False))
    gw.charge(5)
    key = gw.new_key("private")
    secret_in, secret_out = secrets_pair()
    ids = produce(gw, upstream, key, secret_in, secret_out)
    assert upstream.hits("/acme/")[0]["body"]["messages"][1]["content"].endswith(secret_in)
    rows = backend.sql("SELECT id, tokens_prompt, cost, prompt_content, completion_content "
                       "FROM generations")
    assert sorted(r["id"] for r in rows) == sorted(ids)  # metadata is kept
    assert all(r["cost"] > 0 and r["tokens_prompt"] > 0 for r in rows)
    assert all(r["prompt_content"] is None and r["completion_content"] is None for r in rows)
    stored = backend.stored_bytes()
    assert ids[0].encode() in stored  # the search sees what is there
    assert secret_in.encode() not in stored, "the prompt was stored"
    assert secret_out.encode() not in stored, "the completion was stored"
    gw.stop()  # after a clean shutdown too (SQLite folds the WAL into the file)
    stored = backend.stored_bytes()
    assert secret_in.encode() not in stored and secret_out.encode() not in stored


def test_store_content_true_keeps_content(
    start: Start, upstream: MockUpstream, backend: Backend
) -> None:
    gw = start(money_config(upstream.url, store_content=True))
    gw.charge(5)
    key = gw.new_key("kept")
    secret_in, secret_out = secrets_pair()
    ids = produce(gw, upstream, key, secret_in, secret_out)
    for gen_id in ids:
        g = backend.one("SELECT prompt_content, completion_content FROM generations "
                        "WHERE id = $1", gen_id)
        assert secret_in in g["prompt_content"]
        assert secret_out in g["completion_content"]


def _purge(url: str, cutoff: str) -> int:
    async def main() -> int:
        db = await dbmod.connect(url)
        try:
            return await Repo(db).purge_content(cutoff)
        finally:
            await db.close()

    return asyncio.run(main())


def _iso(dt: datetime) -> str:
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_content_older_than_retain_days_is_purged(
    start: Start, upstream: MockUpstream, backend: Backend
) -> None:
    gw = start(money_config(upstream.url, store_content=True, retain_days=30))
    gw.charge(5)
    key = gw.new_key("retained")
    old_in, old_out = secrets_pair()
    new_in, new_out = secrets_pair()
    old_ids = produce(gw, upstream, key, old_in, old_out)
    new_ids = produce(gw, upstream, key, new_in, new_out)
    gw.stop()
    long_ago = _iso(datetime.now(UTC) - timedelta(days=31))
    for gen_id in old_ids:
        backend.sql("UPDATE generations SET created_at = $1, day = $2 WHERE id = $3",
                    long_ago, long_ago[:10], gen_id)
    before: dict[str, Any] = {g["id"]: g for g in backend.sql(
        "SELECT id, cost, tokens_prompt, tokens_completion FROM generations")}
    cutoff = _iso(datetime.now(UTC) - timedelta(days=30))
    assert _purge(backend.url, cutoff) == len(old_ids)
    rows = {g["id"]: g for g in backend.sql(
        "SELECT id, cost, tokens_prompt, tokens_completion, prompt_content, "
        "completion_content FROM generations")}
    for gen_id in old_ids:
        assert rows[gen_id]["prompt_content"] is None
        assert rows[gen_id]["completion_content"] is None
    for gen_id in new_ids:
        assert new_in in rows[gen_id]["prompt_content"]
        assert new_out in rows[gen_id]["completion_content"]
    for gen_id, g in before.items():  # the money records stay
        assert {k: rows[gen_id][k] for k in g} == g
    assert _purge(backend.url, cutoff) == 0  # nothing left to purge
    if backend.kind == "sqlite":
        # purged means gone from the file, not only unreachable by SQL
        stored = backend.stored_bytes()
        assert old_in.encode() not in stored and old_out.encode() not in stored
        assert new_in.encode() in stored


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_server_purges_by_itself(
    start: Start, upstream: MockUpstream, backend: Backend
) -> None:
    """retain_days: 0 — the housekeeping pass clears content without being asked."""
    gw = start(money_config(upstream.url, store_content=True, retain_days=0))
    gw.charge(5)
    key = gw.new_key("ephemeral")
    secret_in, secret_out = secrets_pair()
    produce(gw, upstream, key, secret_in, secret_out)
    import time

    deadline = time.time() + 8
    while time.time() < deadline:
        left = backend.sql("SELECT id FROM generations WHERE prompt_content IS NOT NULL "
                           "OR completion_content IS NOT NULL")
        if not left:
            break
        time.sleep(0.2)
    assert left == []
