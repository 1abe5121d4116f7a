"""Benchmark (not a test): list and search over N stored cases, p50/p99 of typical queries.

Creates a database of its own (``shaobao_bench_search_<hex>``, dropped at the end unless
``--keep``), migrates the router's schema, fills ``router.cases`` and one dispatch per case
with generated rows (``generate_series`` inside PostgreSQL: Chinese titles, descriptions and
addresses, case numbers, channel numbers, areas, 2 % still open with a due time), then
times the router's own query code (``services.router.case_search.find``: one page of 50
and the capped count) for each query kind, one after another on one connection.

    uv run python -m bench.search --cases 1000000

While cases flow in (issue 25 point 3): seed the running system's own database, then
measure while ``bench.e2e`` posts one case per request into the same tables:

    bash bench/fresh.sh && export $(bash bench/fresh.sh env)
    uv run python -m bench.search --into shaobao_bench --cases 1000000 --runs 0   # seed only
    uv run python -m bench.e2e --rate 200 --duration 120 --senders 2 &
    sleep 20; uv run python -m bench.search --into shaobao_bench --cases 0 --runs 100
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import secrets
import statistics
import time
from collections.abc import Awaitable
from datetime import datetime
from typing import Any
from uuid import uuid4

import asyncpg
from sqlalchemy.ext.asyncio import create_async_engine

from bench.common import machine
from services.router.case_search import conditions, find, scope
from shared.auth.keys import ApiKey, Role
from shared.auth.scope import Area
from shared.db.migrate import migrate_all_async
from shared.domain.case_query import parse_filter

ADMIN_URL = "postgresql://shaobao:shaobao@127.0.0.1:55432/shaobao"
SEED = """
INSERT INTO router.cases (case_id, state, channel, category, title, location, urgency, tier,
  received_at, updated_at, case_number, external_id, description, address, area_path,
  search_text, petitioner_ref, next_due_at, closed_at)
SELECT id, CASE WHEN open THEN 'dispatched' ELSE 'closed' END,
  (ARRAY['hotline_12345','wechat','grid_app','walk_in'])[1 + i % 4],
  (ARRAY['property.elevator','property.leak','public.streetlight','environment.noise',
         'traffic.parking','housing.heating'])[1 + i % 6],
  title, '{}'::jsonb, 'normal', 'complex', at, at, number, 'WO' || lpad(i::text, 9, '0'), descr,
  addr, area, concat_ws(' ', number, 'WO' || lpad(i::text, 9, '0'), title, descr, addr),
  'p_' || md5(i::text), CASE WHEN open THEN at + interval '5 days' END,
  CASE WHEN open THEN NULL ELSE at + interval '6 days' END
FROM (
  SELECT i, gen_random_uuid() AS id, i % 50 = 0 AS open,
    $2::timestamptz - (i * ($3::float / $1)) * interval '1 day' AS at,
    'SB' || to_char($2::timestamptz - (i * ($3::float / $1)) * interval '1 day', 'YYYYMMDD')
      || '-' || lpad((i % 1000000)::text, 6, '0') AS number,
    (1 + i % 30) || '号楼' || (ARRAY['电梯停运','路灯不亮','噪音扰民','垃圾清运不及时','占道经营',
      '楼顶漏水','停车难','暖气不热','下水道堵塞','违章搭建'])[1 + (i / 7) % 10]
      || (ARRAY['两天','一周','多次','至今','反复'])[1 + i % 5] AS title,
    (ARRAY['老人无法下楼','影响休息','多次反映未果','物业不处理','孩子上学不便','存在安全隐患'])
      [1 + (i / 3) % 6] || '，' || (ARRAY['请尽快处理','希望有关部门解决','已拨打多次'])[1 + i % 3]
      AS descr,
    (ARRAY['幸福小区','锦绣花园','和平里','新华苑','阳光家园','金桥新村'])[1 + (i / 11) % 6]
      || (1 + i % 30) || '号楼' || (1 + i % 6) || '单元' AS addr,
    'd0' || (1 + i % 3) || '.s0' || (1 + (i / 3) % 5) || '.c0' || (1 + (i / 15) % 4) AS area
  FROM generate_series($4::bigint, $5::bigint) AS i
) g
"""
DISPATCHES = """
INSERT INTO router.dispatches (dispatch_id, case_id, owner_id, role, state, ruleset_version,
  policy, acknowledge_due_at, resolve_due_at, created_at, updated_at)
SELECT gen_random_uuid(), case_id, 'owner-' || (abs(hashtext(case_id::text)) % 60), 'lead',
  CASE WHEN state = 'closed' THEN 'resolved' ELSE 'acknowledged' END, 'bench', '{}'::jsonb,
  received_at + interval '1 day', received_at + interval '5 days', received_at, received_at
FROM router.cases
"""
QUERIES: dict[str, tuple[Role, str | None, dict[str, str]]] = {
    "ops: newest 50": (Role.OPS, None, {}),
    "supervisor (street): newest": (Role.SUPERVISOR, "d01.s02", {}),
    "department: its cases": (Role.DEPARTMENT, "owner-7", {}),
    "overdue by deadline": (Role.OPS, None, {"overdue": "true", "sort": "deadline"}),
    "open, category property.*": (Role.OPS, None, {"state": "dispatched", "category": "property"}),
    "text 电梯停运 (4 chars)": (Role.OPS, None, {"q": "电梯停运"}),
    "text 锦绣花园12号楼 (rare)": (Role.OPS, None, {"q": "锦绣花园12号楼3单元"}),
    "text 电梯 (2 chars)": (Role.OPS, None, {"q": "电梯"}),
    "number part 000123": (Role.OPS, None, {"q": "000123"}),
    "channel number WO000123456": (Role.OPS, None, {"q": "WO000123456"}),
    "phone (pseudonym)": (Role.SUPERVISOR, "", {"phone": "x"}),
}


async def seed(url: str, cases: int, days: float) -> None:
    conn = await asyncpg.connect(url)
    try:
        now, step = datetime.now().astimezone(), 100_000
        await conn.execute("ALTER TABLE router.dispatches DISABLE TRIGGER dispatches_next_due")
        for lo in range(1, cases + 1, step):
            await conn.execute(SEED, cases, now, days, lo, min(lo + step - 1, cases))
        await conn.execute(DISPATCHES)
        await conn.execute("ALTER TABLE router.dispatches ENABLE TRIGGER dispatches_next_due")
        await conn.execute("VACUUM ANALYZE router.cases")
        await conn.execute("VACUUM ANALYZE router.dispatches")
    finally:
        await conn.close()


async def measure(url: str, runs: int) -> dict[str, list[float]]:
    engine = create_async_engine(url, pool_size=1)
    now = datetime.now().astimezone()
    timings: dict[str, list[float]] = {}
    try:
        async with engine.connect() as conn:
            for name, (role, owner, query) in QUERIES.items():
                key = ApiKey(id=uuid4(), role=role, owner_id=owner, channel=None)
                area = Area(owner if role is Role.SUPERVISOR else None)
                f = parse_filter(query)
                ref = "p_" + _md5(123_457) if f.phone else None
                where = [scope(key, area), *conditions(f, now=now, me=owner, ref=ref)]
                timings[name] = [await _timed(find(conn, f, where)) for _ in range(runs)]
    finally:
        await engine.dispose()
    return timings


def _md5(i: int) -> str:
    return hashlib.md5(str(i).encode()).hexdigest()


async def _timed(run: Awaitable[Any]) -> float:
    start = time.perf_counter()
    await run
    return (time.perf_counter() - start) * 1000


def report(timings: dict[str, list[float]]) -> None:
    print(f"{'query':<32} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name, ms in timings.items():
        p99 = statistics.quantiles(ms, n=100, method="inclusive")[98] if len(ms) >= 2 else ms[0]
        print(f"{name:<32} {statistics.median(ms):>8.1f} {p99:>8.1f} {max(ms):>8.1f}")


async def main(args: argparse.Namespace) -> None:
    print(machine())
    if args.into:
        await in_place(args)
        return
    name = f"shaobao_bench_search_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    engine_url = url.replace("postgresql://", "postgresql+asyncpg://")
    try:
        await migrate_all_async(engine_url)
        started = time.perf_counter()
        await seed(url, args.cases, args.days)
        print(f"seeded {args.cases} cases in {time.perf_counter() - started:.0f} s ({name})")
        report(await measure(engine_url, args.runs))
    finally:
        if not args.keep:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def in_place(args: argparse.Namespace) -> None:
    """Seed (``--cases``, 0 for none) and measure (``--runs``, 0 for none) a database that
    exists and is migrated, e.g. the one the running services use; nothing is dropped."""
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{args.into}"
    if args.cases:
        started = time.perf_counter()
        await seed(url, args.cases, args.days)
        print(f"seeded {args.cases} cases in {time.perf_counter() - started:.0f} s ({args.into})")
    if args.runs:
        conn = await asyncpg.connect(url)
        try:
            stored = await conn.fetchval("SELECT count(*) FROM router.cases")
            print(f"measuring over {stored} cases in {args.into}")
        finally:
            await conn.close()
        report(await measure(url.replace("postgresql://", "postgresql+asyncpg://"), args.runs))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--days", type=float, default=365 * 3)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--into", metavar="DB", help="seed and/or measure this existing database in place"
    )
    asyncio.run(main(parser.parse_args()))
