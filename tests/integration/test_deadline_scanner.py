"""The deadline scanner against real PostgreSQL: replicas share due rows through
``FOR UPDATE SKIP LOCKED``, each row fires exactly once, a stale timer does nothing, and a
reminder in quiet hours is held rather than sent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.escalation.deps import EscalationDeps
from services.escalation.firing import FireContext, fire
from services.escalation.policy import EscalationPolicy
from services.escalation.scanner import DeadlineScanner
from services.escalation.tables import deadlines, escalations, outbox
from shared.db.engine import make_engine
from shared.db.migrate import migrate_all_async
from shared.ids import new_id
from tests.support.stack import StackUnderTest, create_stack, drop_stack

pytestmark = pytest.mark.integration

NOON = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai, a Tuesday
XINGFU = {"district": "d01", "street": "s01", "community": "c01", "grid": "g01", "compound": "k01"}


@dataclass
class FixedClock:
    at: datetime

    def now(self) -> datetime:
        return self.at


@pytest.fixture(scope="module")
async def own_stack() -> AsyncIterator[StackUnderTest]:
    """A database of its own: no running service's scanner or rows may interfere."""
    s = await create_stack("scan")
    await migrate_all_async(s.database_url)
    yield s
    await drop_stack(s)


@pytest.fixture
async def engine(own_stack: StackUnderTest) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(own_stack.settings(service_name="test"), pool_size=4)
    yield eng
    await eng.dispose()


@pytest.fixture(scope="module")
def deps(own_stack: StackUnderTest) -> EscalationDeps:
    return EscalationDeps.load(own_stack.settings(), EscalationPolicy())


def _row(case_id: UUID, *, due: datetime, remind: datetime | None = None) -> dict[str, Any]:
    policy = EscalationPolicy().frozen() | {
        "location": XINGFU,
        "dispatch_owner_id": "d01-s01-c01-sq",
    }
    return {
        "deadline_id": new_id(), "case_id": case_id, "dispatch_id": new_id(),
        "owner_id": "d01-s01-c01-sq", "kind": "acknowledge", "due_at": due,
        "remind_at": remind, "next_at": remind or due, "policy": policy, "state": "armed",
        "created_at": NOON, "updated_at": NOON,
    }  # fmt: skip


async def _count(engine: AsyncEngine, stmt: Any) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(stmt) or 0)


async def test_two_scanners_fire_each_due_row_exactly_once(
    engine: AsyncEngine, deps: EscalationDeps
) -> None:
    # One case each: one case has one ladder (issue 22), so sixty clocks of sixty cases.
    rows = [_row(new_id(), due=NOON - timedelta(minutes=i)) for i in range(60)]
    case_ids = [r["case_id"] for r in rows]
    async with engine.begin() as conn:
        await conn.execute(insert(deadlines), rows)
    clock = FixedClock(NOON)
    scanners = [DeadlineScanner(engine, clock, deps, batch=7) for _ in range(2)]

    async def drain(scanner: DeadlineScanner) -> int:
        total = 0
        while (n := await scanner.scan_once()) > 0:
            total += n
        return total

    claimed = await asyncio.gather(*(drain(s) for s in scanners))
    assert sum(claimed) == len(rows)
    steps = await _count(engine, select(func.count()).where(escalations.c.case_id.in_(case_ids)))
    assert steps == len(rows), "one escalation per fired clock, none twice"
    fired = await _count(
        engine,
        select(func.count()).where(
            deadlines.c.case_id.in_(case_ids),
            deadlines.c.kind == "acknowledge",
            deadlines.c.state == "fired",
        ),
    )
    assert fired == len(rows)
    told = await _count(
        engine,
        select(func.count()).where(
            outbox.c.case_id.in_(case_ids), outbox.c.routing_key == "case.escalated"
        ),
    )
    assert told == len(rows)
    ladder = await _count(
        engine,
        select(func.count()).where(
            deadlines.c.case_id.in_(case_ids),
            deadlines.c.kind == "escalate.case",
            deadlines.c.state == "armed",
            deadlines.c.owner_id == "d01-s01-jd",
        ),
    )
    assert ladder == len(rows), "the street office's own clock is armed for the next rung"


async def test_a_stale_version_does_nothing(engine: AsyncEngine, deps: EscalationDeps) -> None:
    case_id = new_id()
    async with engine.begin() as conn:
        await conn.execute(insert(deadlines), [_row(case_id, due=NOON - timedelta(hours=1))])
        row = (await conn.execute(select(deadlines).where(deadlines.c.case_id == case_id))).one()
        await conn.execute(
            deadlines.update()
            .where(deadlines.c.deadline_id == row.deadline_id)
            .values(version=deadlines.c.version + 1)  # re-armed meanwhile
        )
    async with engine.begin() as conn:
        ctx = FireContext(conn=conn, now=NOON, deps=deps)
        assert await fire(ctx, row) == "stale"
        assert ctx.events == []
    steps = await _count(engine, select(func.count()).where(escalations.c.case_id == case_id))
    state = await _count(
        engine,
        select(func.count()).where(deadlines.c.case_id == case_id, deadlines.c.state == "armed"),
    )
    assert (steps, state) == (0, 1)


async def test_a_reminder_is_sent_by_day_and_held_in_quiet_hours(
    engine: AsyncEngine, deps: EscalationDeps
) -> None:
    day_case, night_case = new_id(), new_id()
    evening = NOON + timedelta(hours=10, minutes=30)  # 22:30 in Shanghai
    async with engine.begin() as conn:
        await conn.execute(
            insert(deadlines),
            [
                _row(day_case, due=NOON + timedelta(days=2), remind=NOON - timedelta(minutes=1)),
                _row(night_case, due=evening + timedelta(days=2), remind=evening),
            ],
        )
    await DeadlineScanner(engine, FixedClock(NOON), deps).scan_once()
    await DeadlineScanner(engine, FixedClock(evening), deps).scan_once()
    async with engine.connect() as conn:
        day = (await conn.execute(select(deadlines).where(deadlines.c.case_id == day_case))).one()
        night = (
            await conn.execute(select(deadlines).where(deadlines.c.case_id == night_case))
        ).one()
        reminders = await conn.scalar(
            select(func.count()).where(
                outbox.c.case_id.in_([day_case, night_case]),
                outbox.c.routing_key == "case.reminder",
            )
        )
    assert day.reminded_at == NOON and day.next_at == day.due_at and day.state == "armed"
    assert night.reminded_at is None and night.state == "armed"
    assert night.remind_at == datetime(2026, 11, 25, 0, 0, tzinfo=UTC)  # 08:00 next morning
    assert night.next_at == night.remind_at
    assert reminders == 1


async def test_a_row_that_fails_is_put_back_without_stalling_the_others(
    engine: AsyncEngine, deps: EscalationDeps
) -> None:
    good_case, bad_case = new_id(), new_id()
    bad = _row(bad_case, due=NOON - timedelta(hours=2))
    bad["policy"] = bad["policy"] | {"location": {"district": "d02", "street": "d01.s01"}}
    async with engine.begin() as conn:
        await conn.execute(insert(deadlines), [bad, _row(good_case, due=NOON - timedelta(hours=1))])
    await DeadlineScanner(engine, FixedClock(NOON), deps).scan_once()
    async with engine.connect() as conn:
        failed = (
            await conn.execute(select(deadlines).where(deadlines.c.case_id == bad_case))
        ).one()
        good = await conn.scalar(select(func.count()).where(escalations.c.case_id == good_case))
    assert good == 1
    assert failed.state == "armed" and failed.next_at == NOON + timedelta(minutes=1)
