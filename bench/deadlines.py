"""Benchmark (not a test): N pending deadlines, M of them due at the same instant.

Creates a scratch database on the running PostgreSQL, migrates it, bulk-loads N armed
deadline rows far in the future and M ``acknowledge`` rows all due at one instant D (COPY),
then runs the escalation service's own ``DeadlineScanner`` (as its background task does:
``run()`` with the policy's batch and poll interval) in 1, then 2 separate processes (two
replicas sharing rows through ``FOR UPDATE SKIP LOCKED``) until every due row has fired.
Each scanner reads a clock that shows D at the start of the measurement and then runs at
wall speed, so lateness (``fired_at - due_at``, as the code records it) is real time.

    uv run python -m bench.deadlines --pending 1000000 --due 10000

The relay is not run: the firing writes ``case.escalated`` outbox rows, nothing is published.
The scratch database is dropped at the end (``--keep`` keeps it).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import platform
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson

from services.escalation.policy import EscalationPolicy
from shared.settings import Settings

ADMIN = "postgresql://shaobao:shaobao@127.0.0.1:55432/shaobao"
DUE_AT = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Shanghai
OWNER = "d01-s01-c01-sq"
LOCATION = {
    "district": "d01",
    "street": "s01",
    "community": "c01",
    "grid": "g01",
    "compound": "k01",
}
COLUMNS = [
    "deadline_id", "case_id", "dispatch_id", "whistle_id", "owner_id", "kind", "due_at",
    "remind_at", "reminded_at", "next_at", "level", "policy", "state", "fired_at", "version",
    "created_at", "updated_at",
]  # fmt: skip
CHUNK = 99_999  # a multiple of 3: a dispatch's three clocks stay in one chunk


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    return (
        f"{platform.node()} {platform.machine()} {os.cpu_count()} cores ({cpu}), "
        f"{mem:.1f} GiB RAM, python {platform.python_version()}"
    )


def _policy(dispatched_at: datetime) -> str:
    frozen = EscalationPolicy().frozen() | {
        "location": LOCATION,
        "category": "property.elevator",
        "dispatch_owner_id": OWNER,
        "dispatched_at": dispatched_at.isoformat(),
    }
    return orjson.dumps(frozen).decode()


def pending_records(n: int, start: int) -> list[tuple[Any, ...]]:
    """Armed rows far after D: three clocks per dispatch, reminder not yet due."""
    created = DUE_AT - timedelta(days=1)
    policy = _policy(created)
    kinds = ("acknowledge", "progress", "resolve")
    rows = []
    dispatch = case = None
    for i in range(start, start + n):
        if i % 3 == 0 or dispatch is None:
            dispatch, case = uuid.uuid4(), uuid.uuid4()
        due = DUE_AT + timedelta(days=3 + i % 20, minutes=i % 1440)
        remind = created + (due - created) * 0.75
        rows.append(
            (uuid.uuid4(), case, dispatch, None, OWNER, kinds[i % 3], due, remind, None,
             remind, 0, policy, "armed", None, 1, created, created)
        )  # fmt: skip
    return rows


def due_records(m: int, due_at: datetime) -> list[tuple[Any, ...]]:
    """Acknowledge clocks all due at ``due_at``, their reminder already sent."""
    created = due_at - timedelta(hours=4)
    remind = created + (due_at - created) * 0.75
    policy = _policy(created)
    return [
        (uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), None, OWNER, "acknowledge", due_at, remind,
         remind, due_at, 0, policy, "armed", None, 1, created, remind)
        for _ in range(m)
    ]  # fmt: skip


async def copy_rows(conn: asyncpg.Connection, rows: list[tuple[Any, ...]]) -> None:
    await conn.copy_records_to_table(
        "deadlines", schema_name="escalation", columns=COLUMNS, records=rows
    )


async def check_columns(conn: asyncpg.Connection) -> None:
    """Every NOT NULL column without a default must be in COLUMNS (the schema may grow)."""
    required = await conn.fetch(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'escalation'"
        " AND table_name = 'deadlines' AND is_nullable = 'NO' AND column_default IS NULL"
    )
    missing = {r["column_name"] for r in required} - set(COLUMNS)
    if missing:
        raise SystemExit(f"escalation.deadlines has NOT NULL columns the loader misses: {missing}")


# --- one scanner replica, in its own process (as a replica would be) ------------------------


class _ShiftedClock:
    def __init__(self, offset: timedelta) -> None:
        self._offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset


def _replica(database_url: str, due_at: datetime, start_wall: float, target: int) -> None:
    asyncio.run(_replica_async(database_url, due_at, start_wall, target))


async def _replica_async(
    database_url: str, due_at: datetime, start_wall: float, target: int
) -> None:
    import structlog
    from sqlalchemy import func, select

    from services.escalation.deps import EscalationDeps
    from services.escalation.scanner import DeadlineScanner
    from services.escalation.tables import escalations
    from shared.db.engine import make_engine

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))
    settings = Settings(environment="test", database_url=database_url, service_name="escalation")
    deps = EscalationDeps.load(settings)
    engine = make_engine(settings)
    async with engine.connect() as conn:  # warm the pool before the clock starts
        await conn.scalar(select(1))
    await asyncio.sleep(max(0.0, start_wall - time.time()))
    clock = _ShiftedClock(due_at - datetime.fromtimestamp(start_wall, UTC))
    scanner = DeadlineScanner(
        engine,
        clock,
        deps,
        batch=deps.policy.scan_batch,
        poll_seconds=deps.policy.scan_poll_seconds,
    )
    task = asyncio.create_task(scanner.run())
    try:
        async with engine.connect() as conn:
            while not task.done():
                await asyncio.sleep(0.2)
                done = await conn.scalar(select(func.count()).select_from(escalations))
                await conn.rollback()
                if done >= target:
                    break
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await engine.dispose()


# --- one measurement -------------------------------------------------------------------------


async def measure(
    raw_url: str, database_url: str, due: int, due_at: datetime, instances: int, before: int
) -> dict[str, Any]:
    target = before + due
    start_wall = time.time() + 4.0
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_replica, args=(database_url, due_at, start_wall, target))
        for _ in range(instances)
    ]
    for p in procs:
        p.start()
    conn = await asyncpg.connect(raw_url)
    try:
        await asyncio.sleep(max(0.0, start_wall - time.time()))
        t0 = time.perf_counter()
        done_s = None
        while time.perf_counter() - t0 < 1800:
            n = await conn.fetchval("SELECT count(*) FROM escalation.escalations")
            if n >= target:
                done_s = time.perf_counter() - t0
                break
            if not any(p.is_alive() for p in procs):
                break
            await asyncio.sleep(0.05)
        for p in procs:
            await asyncio.to_thread(p.join, 60)
        rows = await conn.fetch(
            "SELECT extract(epoch FROM fired_at - due_at) AS late,"
            " extract(epoch FROM updated_at - due_at) AS upd, version, state"
            " FROM escalation.deadlines WHERE kind = 'acknowledge' AND due_at = $1",
            due_at,
        )
        twice = await conn.fetchval(
            "SELECT count(*) FROM (SELECT dispatch_id FROM escalation.escalations"
            " WHERE clock = 'acknowledge' GROUP BY dispatch_id HAVING count(*) > 1) t"
        )
        per_deadline = await conn.fetchval(
            "SELECT count(*) FROM escalation.deadlines d WHERE d.kind = 'acknowledge'"
            " AND d.due_at = $1 AND (SELECT count(*) FROM escalation.escalations e"
            " WHERE e.dispatch_id = d.dispatch_id) <> 1",
            due_at,
        )
        outbox = await conn.fetchval(
            "SELECT count(*) FROM escalation.outbox WHERE routing_key = 'case.escalated'"
        )
        rungs = await conn.fetchval(
            "SELECT count(*) FROM escalation.deadlines d WHERE kind = 'escalate.case'"
            " AND state = 'armed'"
        )
        pending = await conn.fetchval(
            "SELECT count(*) FROM escalation.deadlines WHERE state = 'armed'"
            " AND kind IN ('acknowledge', 'progress', 'resolve')"
        )
    finally:
        await conn.close()
    fired = [r for r in rows if r["state"] == "fired"]
    late = [float(r["late"]) for r in fired]
    return {
        "due_at": due_at,
        "instances": instances,
        "due": due,
        "fired": len(fired),
        "wall_s": done_s,
        "late": late,
        "max_updated_late": max((float(r["upd"]) for r in fired), default=float("nan")),
        "versions": sorted({r["version"] for r in fired}),
        "fired_twice": twice,
        "not_exactly_one_escalation": per_deadline,
        "outbox_escalated": outbox,
        "rungs_armed": rungs,
        "pending_armed": pending,
    }


def report(r: dict[str, Any]) -> None:
    late = r["late"]
    wall = r["wall_s"]
    print(
        f"\n== {r['instances']} scanner instance(s), {r['due']:,} rows due at {r['due_at']:%Y-%m-%d %H:%M}Z =="
    )
    if wall is None:
        print(f"NOT all fired: {r['fired']:,} of {r['due']:,}")
    else:
        print(
            f"fired: {r['fired']:,} in {wall:.2f} s wall -> {r['fired'] / wall:,.0f} rows/s"
            " (clock start -> last escalation committed, polled every 50 ms)"
        )
    if late:
        print(
            "lateness fired_at - due_at (s): "
            f"p50 {percentile(late, 50):.2f}  p95 {percentile(late, 95):.2f}  "
            f"p99 {percentile(late, 99):.2f}  max {max(late):.2f}  "
            f"(max updated_at - due_at {r['max_updated_late']:.2f})"
        )
    print(
        f"exactly once: fired rows {r['fired']:,}, versions {r['versions']}, "
        f"dispatches escalated more than once {r['fired_twice']}, "
        f"due rows without exactly one escalation {r['not_exactly_one_escalation']}, "
        f"case.escalated outbox rows {r['outbox_escalated']:,}, "
        f"next-rung clocks armed {r['rungs_armed']:,}, pending still armed {r['pending_armed']:,}"
    )


async def run(pending: int, due: int, instances: list[int], keep: bool) -> None:
    from shared.db.migrate import migrate_all

    print(f"machine: {machine()}")
    name = f"shaobao_benchdl_{secrets.token_hex(4)}"
    raw_url = ADMIN.rsplit("/", 1)[0] + f"/{name}"
    database_url = raw_url.replace("postgresql://", "postgresql+asyncpg://")
    admin = await asyncpg.connect(ADMIN)
    try:
        print(f"server: {await admin.fetchval('SHOW server_version')}, scratch database {name}")
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        await asyncio.to_thread(migrate_all, database_url)
        conn = await asyncpg.connect(raw_url)
        try:
            await check_columns(conn)
            t0 = time.perf_counter()
            for start in range(0, pending, CHUNK):
                await copy_rows(conn, pending_records(min(CHUNK, pending - start), start))
            await copy_rows(conn, due_records(due, DUE_AT))
            load_s = time.perf_counter() - t0
            t1 = time.perf_counter()
            await conn.execute("VACUUM ANALYZE escalation.deadlines")
            vacuum_s = time.perf_counter() - t1
            size = await conn.fetchval(
                "SELECT pg_size_pretty(pg_total_relation_size('escalation.deadlines'))"
            )
        finally:
            await conn.close()
        total = pending + due
        print(
            f"loaded: {total:,} rows ({pending:,} pending + {due:,} due) by COPY in {load_s:.1f} s"
            f" -> {total / load_s:,.0f} rows/s (6 indexes live); VACUUM ANALYZE {vacuum_s:.1f} s;"
            f" table + indexes {size}"
        )
        before = 0
        for k, n in enumerate(instances):
            due_at = DUE_AT + timedelta(minutes=10 * k)
            if k:
                conn = await asyncpg.connect(raw_url)
                try:
                    await copy_rows(conn, due_records(due, due_at))
                    await conn.execute("ANALYZE escalation.deadlines")
                finally:
                    await conn.close()
            result = await measure(raw_url, database_url, due, due_at, n, before)
            report(result)
            before += due
    finally:
        if keep:
            print(f"kept scratch database {name}")
        else:
            admin = await asyncpg.connect(ADMIN)
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await admin.close()
            print(f"dropped scratch database {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pending", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument(
        "--instances", default="1,2", help="scanner replicas per measurement, e.g. 1,2"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()
    instances = [int(x) for x in args.instances.split(",") if x.strip()]
    asyncio.run(run(args.pending, args.due, instances, args.keep))


if __name__ == "__main__":
    main()
