"""``bench.seed_history`` against real PostgreSQL: 2,000 stored cases land in every service's
tables within their constraints, tell consistent stories (timeline chains end in the stored
state), give the running services no work, stay out of the windows a new submission is
matched against, and the services' own read paths answer over them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from bench.history.rows import COLUMNS
from bench.seed_history import Options, seed
from services.escalation.deps import EscalationDeps
from services.escalation.scanner import DeadlineScanner
from services.router.feedback_timeout import FeedbackTimeout
from shared.auth.keys import Role
from shared.cli.keys_cmd import make_key
from shared.clock import SystemClock
from shared.db.engine import make_engine
from shared.db.migrate import migrate_all_async
from tests.support.stack import StackUnderTest, create_stack, drop_stack

pytestmark = pytest.mark.integration
CASES = 2000


@pytest.fixture(scope="module")
async def seeded() -> AsyncIterator[tuple[StackUnderTest, dict[str, int], datetime]]:
    s = await create_stack("seed")
    await migrate_all_async(s.database_url)
    opts = Options(database_url=s.raw_database_url, cases=CASES, chunk=700, tag="t", seed=7)
    counts, now = await asyncio.to_thread(seed, opts)
    yield s, dict(counts), now
    await drop_stack(s)


async def test_every_table_holds_what_the_seeder_wrote(
    seeded: tuple[StackUnderTest, dict[str, int], datetime],
) -> None:
    s, counts, _ = seeded
    for table in COLUMNS:
        assert await s.fetchval(f"SELECT count(*) FROM {table}") == counts.get(table, 0), table
    for table in (
        "intake.cases",
        "router.cases",
        "router.routing_decisions",
        "notifier.case_facts",
    ):
        assert counts[table] == CASES, table
    dispatches = counts["router.dispatches"]
    assert dispatches > CASES  # co-handlers
    per_kind = dict(await s.fetch("SELECT kind, count(*) FROM escalation.deadlines GROUP BY 1"))
    assert per_kind["acknowledge"] == per_kind["resolve"] == dispatches
    assert per_kind["escalate.acknowledge"] == counts["escalation.escalations"] > 0
    assert counts["escalation.extensions"] > 0  # some cases are still in hand
    assert counts["notifier.deliveries"] == counts["notifier.delivery_attempts"]


async def test_ids_are_uuid7_stamped_with_the_time_they_were_made(
    seeded: tuple[StackUnderTest, dict[str, int], datetime],
) -> None:
    s, _, _ = seeded
    rows = await s.fetch("SELECT case_id, received_at FROM intake.cases")
    for r in rows:
        assert r["case_id"].version == 7
        stamp = datetime.fromtimestamp((r["case_id"].int >> 80) / 1000, UTC)
        assert abs(stamp - r["received_at"]) < timedelta(milliseconds=1)
    assert await s.fetchval(
        "SELECT count(*) FROM intake.cases i JOIN router.cases r USING (case_id)"
        " JOIN notifier.case_facts f USING (case_id) WHERE i.category = r.category",
    ) == len(rows)


async def test_timelines_chain_to_the_stored_states(
    seeded: tuple[StackUnderTest, dict[str, int], datetime],
) -> None:
    """Each row's from-state is the previous row's to-state; the last is the stored state."""
    s, _, _ = seeded
    cases = {
        r["case_id"]: r["state"] for r in await s.fetch("SELECT case_id, state FROM router.cases")
    }
    dispatches = {
        r["dispatch_id"]: r["state"]
        for r in await s.fetch("SELECT dispatch_id, state FROM router.dispatches")
    }
    rows = await s.fetch(
        "SELECT case_id, dispatch_id, action, from_state, to_state FROM router.timeline"
        " WHERE to_state IS NOT NULL ORDER BY seq",
    )
    last: dict[Any, str | None] = {}
    for r in rows:
        key = r["dispatch_id"] or r["case_id"]
        if r["dispatch_id"] is None or key in last or r["from_state"] != "pending":
            assert r["from_state"] == last.get(key), (r["case_id"], r["action"])
        last[key] = r["to_state"]
    assert {k: v for k, v in last.items() if k in cases} == cases
    assert {k: v for k, v in last.items() if k in dispatches} == dispatches


async def test_nothing_seeded_is_due_pending_or_inside_a_window(
    seeded: tuple[StackUnderTest, dict[str, int], datetime],
) -> None:
    s, _, now = seeded
    assert await s.fetchval("SELECT count(*) FROM escalation.deadlines WHERE state = 'armed' AND next_at < $1",
        now + timedelta(hours=6),
    ) == 0  # fmt: skip
    assert (
        await s.fetchval("SELECT count(*) FROM notifier.deliveries WHERE status <> 'delivered'")
        == 0
    )
    assert (
        await s.fetchval("SELECT count(*) FROM router.cases WHERE state = 'awaiting_feedback'") == 0
    )
    assert await s.fetchval("SELECT max(received_at) FROM intake.cases") < now - timedelta(days=30)
    for table in ("router.timeline", "notifier.deliveries"):
        column = "at" if table == "router.timeline" else "delivered_at"
        assert await s.fetchval(f"SELECT max({column}) FROM {table}") < now
    assert await s.fetchval("SELECT count(*) FROM (SELECT petitioner_ref FROM intake.cases WHERE petitioner_ref"
        " IS NOT NULL GROUP BY 1 HAVING count(*) > 1) t",
    ) == 0  # fmt: skip
    for schema in ("intake", "router", "escalation", "notifier"):
        assert await s.fetchval(f"SELECT count(*) FROM {schema}.outbox") == 0


async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            yield client


async def test_router_reads_and_sweeps_work_over_the_history(
    seeded: tuple[StackUnderTest, dict[str, int], datetime],
) -> None:
    from services.router.app import create_app

    s, _, _ = seeded
    settings = s.settings(service_name="router")
    key = await make_key(settings, Role.OPS, label="test")
    case_id, state, n = (
        await s.fetch(
            "SELECT c.case_id, c.state, count(t.seq) FROM router.cases c JOIN router.timeline t"
            " USING (case_id) WHERE c.state = 'in_progress' GROUP BY 1, 2 LIMIT 1",
        )
    )[0]
    app = create_app(settings)
    async for http in running(app):
        http.headers["Authorization"] = f"Bearer {key}"
        got = await http.get(f"/v1/cases/{case_id}")
        assert got.status_code == 200, got.text
        assert (got.json()["state"], len(got.json()["timeline"])) == (state, n)
        routing = await http.get(f"/v1/cases/{case_id}/routing")
        assert routing.status_code == 200 and routing.json()[0]["decision"]["lead_owner_id"]
        start = (datetime.now(UTC) - timedelta(days=400)).isoformat()
        kpis = await http.get("/v1/reports/kpis", params={"from": start})
        assert kpis.status_code == 200, kpis.text
        assert kpis.json()["total"]["cases"] == CASES
        assert kpis.json()["total"]["open_overdue"] == 0
        assert await FeedbackTimeout(app.state.runtime).sweep_once() == 0


async def test_escalation_scanner_finds_nothing_due(
    seeded: tuple[StackUnderTest, dict[str, int], datetime],
) -> None:
    s, _, _ = seeded
    settings = s.settings(service_name="escalation")
    engine = make_engine(settings, pool_size=2)
    try:
        deps = EscalationDeps.load(settings)
        scanner = DeadlineScanner(engine, SystemClock(), deps, batch=200, poll_seconds=0.2)
        assert await scanner.scan_once() == 0
    finally:
        await engine.dispose()


async def test_a_new_submission_is_not_matched_against_the_history(
    seeded: tuple[StackUnderTest, dict[str, int], datetime],
) -> None:
    """Same compound and category as stored cases: a new case, no link, no suggestion, no
    alert, not a key person; and its channel can read a stored case by its number."""
    from services.intake.app import create_app

    s, _, _ = seeded
    settings = s.settings(service_name="intake")
    key = await make_key(settings, Role.CHANNEL, channel="hotline_12345", label="test")
    ref, category = (
        await s.fetch(
            "SELECT external_id, category FROM intake.cases WHERE channel = 'hotline_12345'"
            " AND compound IS NOT NULL ORDER BY received_at DESC LIMIT 1",
        )
    )[0]
    compound = {"district": "d01", "street": "s01", "community": "c01", "grid": "g01",
                "compound": "k01"}  # fmt: skip
    body = {"external_id": "new-1", "category": category, "title": "新诉求",
            "description": "多次沟通未果，请相关单位尽快到现场处理并答复。",
            "location": compound, "petitioner": {"phone": "13900001234"}}  # fmt: skip
    app = create_app(settings)
    async for http in running(app):
        http.headers["Authorization"] = f"Bearer {key}"
        answer = await http.post("/v1/cases", json=body)
        assert answer.status_code == 201, answer.text
        got = answer.json()
        assert got["created"] and got["duplicate_of"] is None and not got["key_person"]
        assert got["suggested_duplicates"] == [] and got["rebound_of"] is None
        old = await http.get(f"/v1/refs/hotline_12345/{ref}")
        assert old.status_code == 200, old.text
        assert old.json()["status"] in ("closed", "acknowledged")
    assert await s.fetchval("SELECT count(*) FROM intake.alerts") == 0
