"""Benchmark setup (not a test): N already-stored cases with a year of history, by COPY.

Writes into the stack's database (``SHAOBAO_DATABASE_URL``, default the dev stack), beside
whatever is there, the rows the four services would have stored for N cases received
over ``--days`` days ending ``--end-days-ago`` days ago: intake's cases, channel refs,
petitioners (distinct pseudonymous refs, contact sealed with the stack's PII key) and
key persons; the router's cases, dispatches, timeline and routing decisions; the
escalation service's deadlines (fired or disarmed; a ``--open-share`` of cases still in
hand with an approved extension keep theirs armed, due days ahead), escalations and
extensions; the notifier's case facts, deliveries with their attempts and public notices;
and every consumer's inbox rows. Then ``VACUUM ANALYZE``. See :mod:`bench.history.life`
for the lives a case can have and what is not modelled.

    uv run python -m bench.seed_history --cases 1000000

Ending the history more than 30 days ago keeps it outside every window the services look
back over when a case arrives (same-petitioner and anonymous duplicates, cluster alerts:
30 days; key persons count one petitioner's cases over 365 days, and every seeded
petitioner is distinct), so a benchmark run afterwards measures the size of the tables,
not different decisions. Nothing seeded is due to fire, pending delivery or awaiting
feedback, so the running services find no work in it.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import secrets
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg

from bench.common import machine
from bench.history.life import Window, plan_case
from bench.history.rows import COLUMNS, Extras, Rows, write_case
from bench.history.world import World
from shared.security.links import feedback_token
from shared.security.pii import PiiVault
from shared.settings import Settings


@dataclass(frozen=True)
class Options:
    database_url: str  # postgresql://… (asyncpg's own form)
    cases: int
    days: float = 365
    end_days_ago: float = 31
    open_share: float = 0.01
    seed: int = 1
    chunk: int = 5000
    tag: str = "0"
    now: datetime | None = None  # None: the stack's clock (wall time + any test-clock offset)


def raw_url(database_url: str) -> str:
    return database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def stack_now(conn: asyncpg.Connection) -> datetime:
    """Wall time plus the test clock's offset when the stack runs one."""
    offset = await conn.fetchval("SELECT offset_seconds FROM platform.test_clock WHERE id = 1")
    return datetime.now(UTC) + timedelta(seconds=float(offset or 0))


async def check_columns(conn: asyncpg.Connection) -> None:
    """Every NOT NULL column without a default must be loaded (the schema may grow)."""
    for table, columns in COLUMNS.items():
        schema, name = table.split(".")
        required = await conn.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = $1"
            " AND table_name = $2 AND is_nullable = 'NO' AND column_default IS NULL"
            " AND is_identity = 'NO'",
            schema,
            name,
        )
        missing = {r["column_name"] for r in required} - set(columns)
        if missing:
            raise SystemExit(f"{table} has NOT NULL columns the seeder misses: {sorted(missing)}")


def window(opts: Options, now: datetime, settings: Settings) -> Window:
    end = now - timedelta(days=opts.end_days_ago)
    return Window(
        start=end - timedelta(days=opts.days),
        end=end,
        now=now,
        open_share=opts.open_share,
        feedback_window=timedelta(hours=settings.feedback_window_hours),
        tag=opts.tag,
    )


def extras(settings: Settings, rng: random.Random) -> Extras:
    """Sealed made-up contacts (a pool: sealing each row would dominate the run)."""
    vault = PiiVault(settings.pii_key.get_secret_value())
    sealed = [
        (vault.seal(f"测试居民{i:03d}") or b"", vault.seal(f"199{i:08d}") or b"") for i in range(64)
    ]
    pepper = settings.key_pepper.get_secret_value()

    def link(case_id: UUID, expires: int) -> str:
        return feedback_token(pepper, case_id, expires)

    return Extras(rng, sealed, link, settings.public_feedback_url)


async def seed_chunks(opts: Options, starts: list[int], now: datetime) -> Counter[str]:
    """Plan, write and COPY the chunks beginning at ``starts`` (one transaction each)."""
    settings = Settings()
    world = World.load(settings)
    win = window(opts, now, settings)
    base = extras(settings, random.Random(opts.seed))
    counts: Counter[str] = Counter()
    conn = await asyncpg.connect(opts.database_url)
    try:
        for start in starts:
            rng = random.Random(f"{opts.seed}:{opts.tag}:{start}")
            x = Extras(rng, base.sealed, base.link, base.url)
            rows = Rows()
            for n in range(start, min(start + opts.chunk, opts.cases)):
                write_case(plan_case(n, rng, world, win), rows, world, win, x)
            async with conn.transaction():
                for table, columns in COLUMNS.items():
                    if rows[table]:
                        schema, name = table.split(".")
                        await conn.copy_records_to_table(
                            name, schema_name=schema, columns=columns, records=rows[table]
                        )
            counts.update({t: len(r) for t, r in rows.items()})
    finally:
        await conn.close()
    return counts


def _worker(opts: Options, starts: list[int], now: datetime) -> Counter[str]:
    return asyncio.run(seed_chunks(opts, starts, now))


async def prepare(opts: Options) -> datetime:
    conn = await asyncpg.connect(opts.database_url)
    try:
        await check_columns(conn)
        await conn.execute(
            "INSERT INTO notifier.endpoints (owner_id, url, secret_enc, kind)"
            " VALUES ('petitioner', 'intake:contact', '', 'petitioner') ON CONFLICT DO NOTHING"
        )
        return opts.now or await stack_now(conn)
    finally:
        await conn.close()


async def vacuum(opts: Options) -> dict[str, str]:
    """``VACUUM ANALYZE`` every seeded table; returns each one's size with its indexes."""
    conn = await asyncpg.connect(opts.database_url)
    try:
        sizes = {}
        for table in COLUMNS:
            await conn.execute(f"VACUUM ANALYZE {table}")
            sizes[table] = await conn.fetchval(
                "SELECT pg_size_pretty(pg_total_relation_size($1::regclass))", table
            )
        return sizes
    finally:
        await conn.close()


def seed(opts: Options, workers: int = 1, analyse: bool = True) -> tuple[Counter[str], datetime]:
    """Seed ``opts.cases`` cases with ``workers`` processes (1: in this process)."""
    now = asyncio.run(prepare(opts))
    starts = list(range(0, opts.cases, opts.chunk))
    if workers <= 1:
        counts = asyncio.run(seed_chunks(opts, starts, now))
    else:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            parts = [pool.submit(_worker, opts, starts[i::workers], now) for i in range(workers)]
            counts = sum((p.result() for p in parts), Counter())
    if analyse:
        asyncio.run(vacuum(opts))
    return counts, now


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--days", type=float, default=365, help="length of the history")
    parser.add_argument("--end-days-ago", type=float, default=31, help="keep > 30 (windows)")
    parser.add_argument("--open-share", type=float, default=0.01, help="cases still in hand")
    parser.add_argument("--workers", type=int, default=2, help="generating processes")
    parser.add_argument("--chunk", type=int, default=5000, help="cases per COPY transaction")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", default=None, help="default SHAOBAO_DATABASE_URL")
    parser.add_argument("--no-vacuum", action="store_true")
    args = parser.parse_args()
    opts = Options(
        database_url=raw_url(args.database_url or Settings().database_url),
        cases=args.cases,
        days=args.days,
        end_days_ago=args.end_days_ago,
        open_share=args.open_share,
        seed=args.seed,
        chunk=args.chunk,
        tag=secrets.token_hex(3),
    )
    print(f"machine: {machine()}")
    t0 = time.perf_counter()
    counts, now = seed(opts, workers=args.workers, analyse=False)
    load_s = time.perf_counter() - t0
    total = sum(counts.values())
    print(
        f"seeded {opts.cases:,} cases (tag {opts.tag}, history {opts.days:g} days ending "
        f"{opts.end_days_ago:g} days before {now:%Y-%m-%d %H:%M}Z): {total:,} rows by COPY in "
        f"{load_s:.1f} s -> {total / max(load_s, 1e-9):,.0f} rows/s, {args.workers} worker(s)"
    )
    sizes: dict[str, str] = {}
    if not args.no_vacuum:
        t1 = time.perf_counter()
        sizes = asyncio.run(vacuum(opts))
        print(f"VACUUM ANALYZE: {time.perf_counter() - t1:.1f} s")
    for table in COLUMNS:
        print(f"  {table:28} {counts[table]:>12,} rows  {sizes.get(table, '')}")


if __name__ == "__main__":
    main()
