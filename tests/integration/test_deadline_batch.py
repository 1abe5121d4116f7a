"""The scanner's set-based batch path against real PostgreSQL: it does what firing each
row alone does (same escalations, ladder rows, events), in a handful of statements per
batch; two scanners over rows of the same cases fire each row once with one escalation
per case level; a failing row is retried alone later without stalling the rest."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import orjson
import pytest
from sqlalchemy import event, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from structlog.testing import capture_logs

from services.escalation.deps import EscalationDeps
from services.escalation.fire_context import LOCK_CASE
from services.escalation.firing import FireContext, fire
from services.escalation.policy import EscalationPolicy
from services.escalation.scanner import DeadlineScanner, due_rows
from services.escalation.tables import deadlines, escalations, outbox
from shared.db.engine import make_engine
from shared.db.migrate import migrate_all_async
from shared.db.outbox import write_events
from shared.domain.display import beijing
from shared.ids import new_id
from tests.support.stack import StackUnderTest, create_stack, drop_stack

pytestmark = pytest.mark.integration

NOON = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai, a Tuesday
XINGFU = {"district": "d01", "street": "s01", "community": "c01", "grid": "g01", "compound": "k01"}
COMMUNITY, STREET, FIRM, LIFTS = "d01-s01-c01-sq", "d01-s01-jd", "wy-xingfu", "wb-anda"
M = timedelta(minutes=1)


@dataclass
class FixedClock:
    at: datetime

    def now(self) -> datetime:
        return self.at


@pytest.fixture
async def own_stack() -> AsyncIterator[StackUnderTest]:
    """A database of its own per test: no other scanner, no other test's rows."""
    s = await create_stack("scanb")
    await migrate_all_async(s.database_url)
    yield s
    await drop_stack(s)


@pytest.fixture
async def engine(own_stack: StackUnderTest) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(own_stack.settings(service_name="test"), pool_size=4)
    yield eng
    await eng.dispose()


@pytest.fixture
def deps(own_stack: StackUnderTest) -> EscalationDeps:
    return EscalationDeps.load(own_stack.settings(), EscalationPolicy())


def _clock(case: UUID, kind: str, owner: str, due: datetime, **extra: Any) -> dict[str, Any]:
    """An armed clock due at ``due`` (``extra``: other columns; ``role``: into the policy)."""
    policy = EscalationPolicy().frozen() | {
        "location": XINGFU,
        "dispatch_owner_id": owner,
        "role": extra.pop("role", "lead"),
    }
    row = {
        "deadline_id": new_id(), "case_id": case, "dispatch_id": new_id(), "whistle_id": None,
        "owner_id": owner, "kind": kind, "due_at": due, "remind_at": None, "reminded_at": None,
        "next_at": due, "level": 0, "policy": policy, "state": "armed", "fired_at": None,
        "created_at": NOON - timedelta(days=3), "updated_at": NOON - timedelta(days=3),
    }  # fmt: skip
    return row | extra


def _ladder(case: UUID, owner: str, level: int, due: datetime, kind: str = "escalate.case"):  # type: ignore[no-untyped-def]
    return _clock(case, kind, owner, due, dispatch_id=None, level=level)


def _escalation(case: UUID, level: str, to: str) -> dict[str, Any]:
    return {
        "escalation_id": new_id(), "case_id": case, "dispatch_id": None, "whistle_id": None,
        "clock": "acknowledge", "level": level, "from_owner_id": FIRM, "to_owner_id": to,
        "reason": "签收时限已过（此前）", "skipped": None, "due_at": NOON,
        "created_at": NOON - timedelta(days=1),
    }  # fmt: skip


def _world() -> tuple[dict[UUID, str], list[dict[str, Any]], list[dict[str, Any]]]:
    """Every kind of row the scanner fires, several sharing a case, their claim order
    (``next_at``) fixed; returns (label of each id, deadline rows, escalations before)."""
    c = {name: new_id() for name in "co ladder_first clock_first joins held remind top backlog answered triage".split()}  # fmt: skip
    gone = NOON - timedelta(days=2)
    fired = {"state": "fired", "fired_at": gone}
    ack = _clock(c["held"], "acknowledge", FIRM, NOON + timedelta(days=1))
    rows = {
        "co.a": _clock(c["co"], "acknowledge", FIRM, NOON - 50 * M),
        "co.b": _clock(c["co"], "acknowledge", COMMUNITY, NOON - 49 * M, role="co_handler"),
        "co.c": _clock(c["co"], "resolve", LIFTS, NOON - 48 * M, role="co_handler"),
        "ladder_first.L": _ladder(c["ladder_first"], STREET, 1, NOON - 40 * M),
        "ladder_first.old": _clock(c["ladder_first"], "acknowledge", FIRM, gone, **fired),
        "ladder_first.r": _clock(c["ladder_first"], "resolve", FIRM, NOON - 39 * M),
        "clock_first.k": _clock(c["clock_first"], "acknowledge", COMMUNITY, NOON - 30 * M),
        "clock_first.L": _ladder(c["clock_first"], COMMUNITY, 0, NOON - 29 * M),
        "joins.k": _clock(c["joins"], "acknowledge", FIRM, NOON - 20 * M),
        "joins.L": _ladder(c["joins"], COMMUNITY, 0, NOON + timedelta(days=1)),
        "held.ack": ack,
        "held.p": _clock(c["held"], "progress", FIRM, NOON - 15 * M, dispatch_id=ack["dispatch_id"]),
        "held.r": _clock(c["held"], "resolve", LIFTS, NOON - 14 * M, role="co_handler"),
        "remind.r": _clock(c["remind"], "resolve", FIRM, NOON + timedelta(days=2), remind_at=NOON - 10 * M, next_at=NOON - 10 * M),
        "top.L": _ladder(c["top"], "city-xfj", 3, NOON - 9 * M),
        "top.old": _clock(c["top"], "acknowledge", FIRM, gone, **fired),
        "backlog.B": _ladder(c["backlog"], "city-xfj", 4, NOON - 8 * M, kind="backlog"),
        "backlog.old": _clock(c["backlog"], "resolve", FIRM, gone, **fired),
        "answered.B": _ladder(c["answered"], "city-xfj", 4, NOON - 7 * M, kind="backlog"),
        "triage.t": _clock(c["triage"], "triage", "d01-xfb", NOON - 5 * M, dispatch_id=None, role="desk"),
    }  # fmt: skip
    before = [
        _escalation(c["ladder_first"], "street_office", STREET),
        _escalation(c["clock_first"], "community", COMMUNITY),
        _escalation(c["joins"], "community", COMMUNITY),
    ]
    labels = {v: k for k, v in c.items()} | {r["deadline_id"]: k for k, r in rows.items()}
    labels |= {r["dispatch_id"]: k for k, r in rows.items() if r["dispatch_id"]}
    return labels, list(rows.values()), before


async def _load(engine: AsyncEngine, rows: list[dict[str, Any]], before: list[dict[str, Any]]) -> None:  # fmt: skip
    async with engine.begin() as conn:
        await conn.execute(insert(deadlines), rows)
        if before:
            await conn.execute(insert(escalations), before)


async def _fire_each_alone(engine: AsyncEngine, deps: EscalationDeps) -> None:
    """The per-row path: each claimed row fired on its own, in claim order."""
    async with engine.begin() as conn:
        ctx = FireContext(conn=conn, now=NOON, deps=deps)
        for row in (await conn.execute(due_rows(NOON, 1000))).all():
            async with conn.begin_nested():
                await fire(ctx, row)
        await write_events(conn, outbox, ctx.events)


async def _picture(engine: AsyncEngine, labels: dict[UUID, str]) -> dict[str, Any]:
    """What the firing left, ids replaced by the world's labels (comparable across worlds)."""
    cases = [k for k, v in labels.items() if "." not in v]
    async with engine.connect() as conn:
        rows = (await conn.execute(select(deadlines).where(deadlines.c.case_id.in_(cases)))).all()
        steps = (
            await conn.execute(select(escalations).where(escalations.c.case_id.in_(cases)))
        ).all()
        sent = (await conn.execute(select(outbox).where(outbox.c.case_id.in_(cases)))).all()
    skip = {"deadline_id", "escalation_id", "updated_at", "seq", "event_id", "body"}

    def clean(values: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(sorted((k, _named(labels, v)) for k, v in values.items() if k not in skip))

    sent_rows = [dict(e._mapping) | {"created_at": None} for e in sent]  # the server's clock
    events = [clean(e | orjson.loads(e["body"])["data"]) for e in sent_rows]
    return {
        "deadlines": sorted(clean(dict(r._mapping)) for r in rows),
        "escalations": sorted(clean(dict(r._mapping)) for r in steps),
        "events": sorted(events),
    }


def _named(labels: dict[UUID, str], value: Any) -> str:
    """``value`` as text, an id as the world's label for it (``new``: made by the firing)."""
    try:
        return labels.get(UUID(str(value)), "new")
    except ValueError:
        return repr(value)


async def test_a_batch_does_what_firing_each_row_alone_does(
    engine: AsyncEngine, deps: EscalationDeps
) -> None:
    alone_labels, alone_rows, alone_before = _world()
    await _load(engine, alone_rows, alone_before)
    await _fire_each_alone(engine, deps)
    expected = await _picture(engine, alone_labels)

    labels, rows, before = _world()
    await _load(engine, rows, before)
    with capture_logs() as logs:
        claimed = await DeadlineScanner(engine, FixedClock(NOON), deps, batch=1000).scan_once()
    assert claimed == 15
    assert not [e for e in logs if e["event"] == "deadline_batch_failed"], logs
    got = await _picture(engine, labels)
    assert got["escalations"] == expected["escalations"]
    assert got["deadlines"] == expected["deadlines"]
    assert got["events"] == expected["events"]
    levels: dict[str, list[str]] = {}
    for step in got["escalations"]:
        fields = dict(step)
        levels.setdefault(fields["case_id"], []).append(fields["level"])
    assert sorted(levels["co"]) == ["'community'", "'street_office'"], levels
    assert levels["top"] == ["'backlog'"] and "answered" not in levels, levels


async def test_an_escalation_names_the_dispatch_of_the_owner_it_goes_up_from(
    engine: AsyncEngine, deps: EscalationDeps
) -> None:
    """Case ``co``: the firm (lead) and the community office (a co-handler) both missed
    their acknowledge clocks. The firm's lateness goes up to the community; the community's
    own lateness takes the case on to the street, and that message, which the community
    also gets, names the community's dispatch, not the firm's."""
    labels, rows, before = _world()
    await _load(engine, rows, before)
    await DeadlineScanner(engine, FixedClock(NOON), deps, batch=1000).scan_once()
    got = await _picture(engine, labels)
    steps = {f["level"]: f for f in map(dict, got["escalations"]) if f["case_id"] == "co"}
    community, street = steps["'community'"], steps["'street_office'"]
    assert (community["from_owner_id"], community["dispatch_id"]) == (repr(FIRM), "co.a")
    assert (street["from_owner_id"], street["dispatch_id"]) == (repr(COMMUNITY), "co.b")
    told = {e["level"]: e for e in map(dict, got["events"]) if e["case_id"] == "co"}
    assert told["'street_office'"]["dispatch_id"] == "co.b"


async def test_two_scanners_over_rows_of_the_same_cases_fire_each_once_one_step_per_level(
    engine: AsyncEngine, deps: EscalationDeps
) -> None:
    # Twenty cases of three clocks each (a firm's, a community's as co-handler, a
    # maintenance unit's), interleaved in due order: a case's rows fall in different
    # batches of the two scanners, which run at once.
    cases = [new_id() for _ in range(20)]
    owners = [(FIRM, "lead"), (COMMUNITY, "co_handler"), (LIFTS, "co_handler")]
    rows = [
        _clock(cases[i % 20], "acknowledge", owners[i // 20][0], NOON - (60 - i) * M,
               role=owners[i // 20][1])
        for i in range(60)
    ]  # fmt: skip
    await _load(engine, rows, [])
    scanners = [DeadlineScanner(engine, FixedClock(NOON), deps, batch=7) for _ in range(2)]

    async def drain(scanner: DeadlineScanner) -> int:
        total = 0
        while (n := await scanner.scan_once()) > 0:
            total += n
        return total

    with capture_logs() as logs:
        claimed = await asyncio.gather(*(drain(s) for s in scanners))
    # a row of a case the other scanner was firing is left for a later pass, so a row may
    # be claimed twice; it is fired once (the fencing below)
    assert sum(claimed) >= 60
    assert not [e for e in logs if e["event"] == "deadline_batch_failed"], logs
    async with engine.connect() as conn:
        fired = (
            await conn.execute(select(deadlines).where(deadlines.c.kind == "acknowledge"))
        ).all()
        steps = (await conn.execute(select(escalations))).all()
        sent = (await conn.execute(select(outbox.c.case_id).where(outbox.c.routing_key == "case.escalated"))).all()  # fmt: skip
        ladders = (await conn.execute(select(deadlines).where(deadlines.c.kind == "escalate.case"))).all()  # fmt: skip
    assert {(r.state, r.version) for r in fired} == {("fired", 2)}, "each row fenced once"
    per_case: dict[UUID, list[Any]] = {}
    for s in steps:
        per_case.setdefault(s.case_id, []).append(s)
    assert set(per_case) == set(cases)
    for case, mine in per_case.items():
        levels = [s.level for s in mine]
        assert len(levels) == len(set(levels)), f"one escalation per level: {levels}"
        told = "".join(s.reason for s in mine)
        for r in rows:
            if r["case_id"] == case:
                assert beijing(r["due_at"]) in told, "every overdue clock is named"
    assert len(sent) == len(steps)
    assert sorted(r.case_id for r in ladders) == sorted(cases), "one ladder row per case"
    assert {r.state for r in ladders} == {"armed"}


async def test_a_batch_is_fired_in_a_few_statements_whatever_its_size(
    engine: AsyncEngine, deps: EscalationDeps
) -> None:
    await _load(engine, [_clock(new_id(), "acknowledge", FIRM, NOON - i * M) for i in range(50)], [])  # fmt: skip
    statements: list[str] = []
    listener = lambda *a: statements.append(a[2])  # noqa: E731
    event.listen(engine.sync_engine, "before_cursor_execute", listener)
    try:
        assert await DeadlineScanner(engine, FixedClock(NOON), deps).scan_once() == 50
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", listener)
    assert len(statements) <= 12, statements  # was about 8 per row


async def test_a_failing_row_in_a_batch_is_retried_alone_later_without_stalling_the_rest(
    engine: AsyncEngine, deps: EscalationDeps
) -> None:
    good = [_clock(new_id(), "acknowledge", FIRM, NOON - i * M) for i in range(1, 6)]
    bad = _clock(new_id(), "acknowledge", FIRM, NOON - 3 * M - timedelta(seconds=30))
    bad["policy"] = bad["policy"] | {"location": {"district": "d02", "street": "d01.s01"}}
    await _load(engine, [*good, bad], [])
    with capture_logs() as logs:
        assert await DeadlineScanner(engine, FixedClock(NOON), deps).scan_once() == 6
    assert [e["event"] for e in logs].count("deadline_batch_failed") >= 1
    assert [e["deadline_id"] for e in logs if e["event"] == "deadline_fire_failed"] == [
        str(bad["deadline_id"])
    ], "the bad row alone is fired on its own"
    async with engine.connect() as conn:
        steps = (await conn.execute(select(escalations.c.case_id))).all()
        failed = (await conn.execute(select(deadlines).where(deadlines.c.deadline_id == bad["deadline_id"]))).one()  # fmt: skip
    assert sorted(s.case_id for s in steps) == sorted(r["case_id"] for r in good)
    assert (failed.state, failed.version, failed.next_at) == ("armed", 1, NOON + M)

    # A minute later it is the only row due: claimed alone, put back again, nothing else moves.
    with capture_logs():
        assert await DeadlineScanner(engine, FixedClock(NOON + M), deps).scan_once() == 1
    async with engine.connect() as conn:
        again = (await conn.execute(select(deadlines).where(deadlines.c.deadline_id == bad["deadline_id"]))).one()  # fmt: skip
        total = len((await conn.execute(select(escalations.c.case_id))).all())
    assert (again.state, again.next_at, total) == ("armed", NOON + 2 * M, 5)


async def test_a_ladder_a_batch_armed_climbs_when_its_rung_delay_passes(
    engine: AsyncEngine, deps: EscalationDeps
) -> None:
    case = new_id()
    await _load(engine, [_clock(case, "acknowledge", COMMUNITY, NOON - M)], [])
    assert await DeadlineScanner(engine, FixedClock(NOON), deps).scan_once() == 1
    async with engine.connect() as conn:
        ladder = (await conn.execute(select(deadlines).where(deadlines.c.kind == "escalate.case"))).one()  # fmt: skip
    assert (ladder.level, ladder.owner_id, ladder.state) == (1, STREET, "armed")
    with capture_logs() as logs:
        later = FixedClock(ladder.due_at + M)
        assert await DeadlineScanner(engine, later, deps).scan_once() == 1
    assert not [e for e in logs if e["event"] == "deadline_batch_failed"], logs
    async with engine.connect() as conn:
        steps = (await conn.execute(select(escalations).order_by(escalations.c.level))).all()
    assert [(s.level, s.from_owner_id) for s in steps] == [
        ("district_petition_bureau", STREET),
        ("street_office", COMMUNITY),
    ]


async def test_a_case_another_replica_is_firing_waits_for_the_next_pass(
    engine: AsyncEngine, deps: EscalationDeps
) -> None:
    # Waiting for that case's lock while holding claimed rows could close a circle with
    # the other replica (it may wait for one of those rows): the batch leaves the case.
    held, free = new_id(), new_id()
    rows = [_clock(held, "acknowledge", FIRM, NOON - 2 * M), _clock(free, "acknowledge", FIRM, NOON - M)]  # fmt: skip
    await _load(engine, rows, [])
    async with engine.connect() as other:
        await other.execute(text(LOCK_CASE), {"k": str(held)})  # another replica's batch
        with capture_logs() as logs:
            scan = DeadlineScanner(engine, FixedClock(NOON), deps).scan_once()
            assert await asyncio.wait_for(scan, timeout=20) == 2, "never waits for the lock"
        await other.rollback()
    assert not [e for e in logs if e["event"] == "deadline_batch_failed"], logs
    async with engine.connect() as conn:
        clocks = select(deadlines.c.case_id, deadlines.c.state).where(
            deadlines.c.kind == "acknowledge"
        )
        states = dict((await conn.execute(clocks)).all())
    assert states == {held: "armed", free: "fired"}
    assert await DeadlineScanner(engine, FixedClock(NOON), deps).scan_once() == 1
    async with engine.connect() as conn:
        after = (
            await conn.execute(
                select(deadlines).where(deadlines.c.deadline_id == rows[0]["deadline_id"])
            )
        ).one()
        told = (await conn.execute(select(escalations.c.case_id))).all()
    assert (after.state, after.version, len(told)) == ("fired", 2, 2)
