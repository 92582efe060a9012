"""What the money path costs per request: hold before the upstream call, settle after.

Runs the real Ledger against a real SQLite file (or PostgreSQL with --db), at
concurrency 1 and 64, and prints microseconds per request side by side with a
run that skips both, so the difference is the money path alone.

    .venv/bin/python bench/money_path.py [--requests 5000] [--db postgresql://…]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from switchboard.billing.ledger import Ledger, Settlement
from switchboard.store import db as dbmod
from switchboard.store import migrations
from switchboard.store.repo import DEFAULT_ACCOUNT, Repo


async def run(url: str, requests: int, concurrency: int, money: bool) -> list[float]:
    database = await dbmod.connect(url)
    await migrations.upgrade(database)
    repo = Repo(database)
    await repo.ensure_default_account()
    await repo.grant_credits(DEFAULT_ACCOUNT, 10**18)
    _, row = await repo.create_key(DEFAULT_ACCOUNT, f"bench-{time.time_ns()}")
    key = await repo.key_record(row["hash"])
    assert key is not None
    ledger = Ledger(database)
    await ledger.start()
    latencies: list[float] = []
    counter = 0

    async def one() -> None:
        nonlocal counter
        counter += 1
        gen_id = f"gen-bench-{time.time_ns()}-{counter}"
        t0 = time.perf_counter()
        if money:
            await ledger.hold(gen_id, key, 5_000_000)
        await asyncio.sleep(0)  # stands in for the upstream call
        if money:
            ledger.settle(Settlement(gen_id, key, 1_234_567, {
                "id": gen_id, "account_id": key.account_id, "key_hash": key.hash,
                "model": "bench/model", "provider": "mock", "cost": 1_234_567,
                "tokens_prompt": 42, "tokens_completion": 36, "status": 200,
                "provider_responses": [{"provider": "mock", "status": 200}],
            }))
        latencies.append((time.perf_counter() - t0) * 1e6)

    async def worker(n: int) -> None:
        for _ in range(n):
            await one()

    per = requests // concurrency
    t0 = time.perf_counter()
    await asyncio.gather(*(worker(per) for _ in range(concurrency)))
    await ledger.stop()  # the settlements' writes count too
    elapsed = time.perf_counter() - t0
    await database.close()
    return [elapsed / (per * concurrency) * 1e6, *latencies]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--db", default=None)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    url = args.db or f"sqlite:///{tmp}/money.db"
    print(f"database: {url.split('@')[-1]}; {args.requests} requests per run")
    print(f"{'concurrency':>11} | {'without ms p50':>14} | {'with ms p50':>11} | "
          f"{'added ms p50':>12} | {'CPU µs/req with (incl. settle)':>30}")
    for conc in (1, 64):
        base = asyncio.run(run(url, args.requests, conc, money=False))
        money = asyncio.run(run(url, args.requests, conc, money=True))
        p50_base = statistics.median(base[1:]) / 1000
        p50_money = statistics.median(money[1:]) / 1000
        print(f"{conc:>11} | {p50_base:>14.3f} | {p50_money:>11.3f} | "
              f"{p50_money - p50_base:>12.3f} | {money[0]:>30.1f}")


if __name__ == "__main__":
    main()
