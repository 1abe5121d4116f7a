"""``shaobao deadlines replan`` against real PostgreSQL: the open clocks of one dispatch are
recomputed under the new policy with ``version`` bumped (a timer claimed before is stale);
fired, disarmed and other dispatches' rows are untouched; ``--dry-run`` changes nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from services.escalation.deps import EscalationDeps
from services.escalation.firing import FireContext, fire
from services.escalation.policy import EscalationPolicy
from services.escalation.tables import deadlines, escalations
from shared.cli.main import app as shaobao
from shared.db.engine import make_engine
from shared.db.migrate import migrate_all_async
from shared.ids import new_id
from tests.support.stack import StackUnderTest, create_stack, drop_stack

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # Tuesday 09:00 in Shanghai
XINGFU = {"district": "d01", "street": "s01", "community": "c01", "grid": "g01", "compound": "k01"}
OWNER = "d01-s01-c01-sq"
# Far enough ahead of the wall clock the command reads that no new reminder is already owed.
LATER = datetime(2027, 1, 4, 1, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
async def own_stack() -> AsyncIterator[StackUnderTest]:
    s = await create_stack("replan")
    await migrate_all_async(s.database_url)
    yield s
    await drop_stack(s)


@pytest.fixture
async def engine(own_stack: StackUnderTest) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(own_stack.settings(service_name="test"), pool_size=2)
    yield eng
    await eng.dispose()


def _policy(start: datetime) -> dict[str, Any]:
    return EscalationPolicy().frozen() | {
        "location": XINGFU,
        "dispatch_owner_id": OWNER,
        "dispatched_at": start.isoformat(),
    }


def _row(dispatch_id: UUID, kind: str, *, start: datetime, due: datetime, **kw: Any) -> dict:
    remind = start + (due - start) * 0.75
    row = {
        "deadline_id": new_id(), "case_id": new_id(), "dispatch_id": dispatch_id,
        "owner_id": OWNER, "kind": kind, "due_at": due, "remind_at": remind,
        "reminded_at": None, "next_at": remind, "level": 0, "policy": _policy(start), "state": "armed",
        "created_at": start, "updated_at": start,
    }  # fmt: skip
    return row | kw  # every row the same keys: one executemany


async def _rows(engine: AsyncEngine, dispatch_id: UUID) -> dict[str, Any]:
    async with engine.connect() as conn:
        found = (
            await conn.execute(select(deadlines).where(deadlines.c.dispatch_id == dispatch_id))
        ).all()
    return {r.kind: r for r in found}


def _invoke(stack: StackUnderTest, *args: str) -> Any:
    env = {
        "SHAOBAO_ENVIRONMENT": "test",
        "SHAOBAO_DATABASE_URL": stack.database_url,
        "SHAOBAO_AMQP_URL": stack.amqp_url,
    }
    return CliRunner().invoke(shaobao, ["deadlines", "replan", *args], env=env)


async def test_replan_recomputes_open_clocks_and_fences_stale_timers(
    own_stack: StackUnderTest, engine: AsyncEngine, tmp_path: Path
) -> None:
    dispatch, other = new_id(), new_id()
    due = LATER + timedelta(days=10)
    rung_told = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # Tuesday 10:00 in Shanghai
    reminded = _row(dispatch, "progress", start=LATER, due=LATER + timedelta(days=4))
    reminded |= {"reminded_at": reminded["remind_at"], "next_at": reminded["due_at"]}
    rows = [
        _row(dispatch, "resolve", start=LATER, due=due),
        reminded,
        _row(dispatch, "acknowledge", start=START, due=START + timedelta(days=1), state="fired"),
        _row(
            dispatch, "escalate.acknowledge", start=rung_told, due=rung_told + timedelta(days=1),
            level=1, remind_at=None, next_at=rung_told + timedelta(days=1),
        ),
        _row(other, "resolve", start=LATER, due=due),
    ]  # fmt: skip
    async with engine.begin() as conn:
        await conn.execute(insert(deadlines), rows)
        await conn.execute(
            insert(escalations).values(
                escalation_id=new_id(), case_id=rows[3]["case_id"], dispatch_id=dispatch,
                clock="acknowledge", level="street_office", from_owner_id=OWNER,
                to_owner_id="d01-s01-jd", reason="test", created_at=rung_told,
            )
        )  # fmt: skip
    before = await _rows(engine, dispatch)

    dry = await asyncio.to_thread(
        _invoke, own_stack, "--dispatch", str(dispatch), "--reminder-share", "0.5", "--dry-run"
    )
    assert dry.exit_code == 0, dry.output
    assert "dry run" in dry.output
    assert {k: r.version for k, r in (await _rows(engine, dispatch)).items()} == {
        k: r.version for k, r in before.items()
    }

    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text("level_delays:\n  street_office: 3wd\n", encoding="utf-8")
    result = await asyncio.to_thread(
        _invoke, own_stack, "--dispatch", str(dispatch), "--reminder-share", "0.5",
        "--policy-file", str(policy_file),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    after = await _rows(engine, dispatch)

    resolve = after["resolve"]
    assert resolve.version == before["resolve"].version + 1
    assert resolve.due_at == due, "the dispatch's own time limit does not move"
    assert resolve.remind_at == LATER + (due - LATER) * 0.5
    assert resolve.next_at == resolve.remind_at
    assert resolve.policy["reminder_share"] == 0.5
    assert resolve.policy["location"] == XINGFU, "the rest of the frozen policy is kept"

    progress = after["progress"]
    assert progress.version == before["progress"].version + 1
    assert progress.remind_at == before["progress"].remind_at, "a sent reminder stays sent"
    assert progress.next_at == progress.due_at

    rung = after["escalate.acknowledge"]
    # told Tuesday 10:00; the new 3 working days (was 1) -> Friday 10:00 in Shanghai
    assert rung.due_at == datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
    assert rung.next_at == rung.due_at
    assert rung.version == before["escalate.acknowledge"].version + 1
    assert rung.policy["level_delays"]["street_office"] == "3wd"

    fired = after["acknowledge"]
    assert (fired.version, fired.state) == (before["acknowledge"].version, "fired")
    untouched = (await _rows(engine, other))["resolve"]
    assert untouched.version == 1 and untouched.policy["reminder_share"] == 0.75

    # A timer that claimed the resolve row before the re-plan is now stale: it does nothing.
    deps = EscalationDeps.load(own_stack.settings(), EscalationPolicy())
    async with engine.begin() as conn:
        ctx = FireContext(conn=conn, now=before["resolve"].next_at, deps=deps)
        assert await fire(ctx, before["resolve"]) == "stale"
        assert ctx.events == []


async def test_replan_refuses_without_a_change_or_open_clocks(own_stack: StackUnderTest) -> None:
    nothing = await asyncio.to_thread(_invoke, own_stack, "--dispatch", str(new_id()))
    assert nothing.exit_code == 2
    none_open = await asyncio.to_thread(
        _invoke, own_stack, "--dispatch", str(new_id()), "--reminder-share", "0.5"
    )
    assert none_open.exit_code == 1


async def test_a_reminder_already_owed_under_the_new_share_is_due_at_once(
    own_stack: StackUnderTest, engine: AsyncEngine
) -> None:
    dispatch = new_id()
    now = datetime.now(UTC)
    start, due = now - timedelta(days=2), now + timedelta(days=2)
    async with engine.begin() as conn:
        await conn.execute(insert(deadlines), [_row(dispatch, "resolve", start=start, due=due)])
    result = await asyncio.to_thread(
        _invoke, own_stack, "--dispatch", str(dispatch), "--reminder-share", "0.25"
    )
    assert result.exit_code == 0, result.output
    row = (await _rows(engine, dispatch))["resolve"]
    assert row.remind_at == start + (due - start) * 0.25  # a day ago
    assert now <= row.next_at <= datetime.now(UTC), "owed now, not skipped"
    assert row.reminded_at is None and row.due_at == due
