"""Upgrading a populated intake (intake_0004 → head) on real PostgreSQL: numbering goes on
after the cases already stored, and only departments with a live dispatch (the router's
dispatches, not the old owner list, which never lost a returned owner) keep access."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import asyncpg
import pytest
from alembic import command

from services.intake.case_numbers import draw
from shared.db.engine import make_engine
from shared.db.migrate import alembic_config
from tests.support.stack import StackUnderTest, create_stack, drop_stack

pytestmark = pytest.mark.integration
NOW = datetime(2031, 5, 6, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai, a day no other test uses


@pytest.fixture
async def old_stack() -> AsyncIterator[StackUnderTest]:
    s = await create_stack("upgrade")
    yield s
    await drop_stack(s)


def _upgrade(stack: StackUnderTest, schema: str, revision: str) -> None:
    command.upgrade(alembic_config(schema, stack.database_url), revision)


async def test_a_populated_intake_upgrades_to_numbers_after_its_cases_and_live_holders(
    old_stack: StackUnderTest,
) -> None:
    await asyncio.to_thread(_upgrade, old_stack, "router", "head")
    await asyncio.to_thread(_upgrade, old_stack, "intake", "intake_0004")
    case_id, other = uuid4(), uuid4()
    returned, live = uuid4(), uuid4()
    conn = await asyncpg.connect(old_stack.raw_database_url)
    try:
        for i, cid in enumerate((case_id, other)):
            await conn.execute(
                "INSERT INTO intake.cases (case_id, channel, category, title, description,"
                " location, urgency, status, status_detail, status_at, received_at)"
                " VALUES ($1, 'wechat', 'property.elevator', 't', 'd', '{}', 'normal',"
                " 'dispatched', $2::jsonb, $3, $3)",
                cid, json.dumps({"owners": ["wy-xingfu", "d01-sthj"]}), NOW + timedelta(minutes=i),
            )  # fmt: skip
        await conn.execute(
            "INSERT INTO router.cases (case_id, state, channel, category, title, location,"
            " urgency, received_at) VALUES ($1, 'dispatched', 'wechat', 'property.elevator',"
            " 't', '{}', 'normal', $2)",
            case_id, NOW,
        )  # fmt: skip
        for dispatch_id, owner, state in ((returned, "d01-sthj", "returned"),
                                          (live, "wy-xingfu", "pending")):  # fmt: skip
            await conn.execute(
                "INSERT INTO router.dispatches (dispatch_id, case_id, owner_id, role, state,"
                " ruleset_version, policy, acknowledge_due_at, resolve_due_at, created_at,"
                " updated_at) VALUES ($1, $2, $3, 'lead', $4, 'v', '{}', $5, $5, $5, $5)",
                dispatch_id, case_id, owner, state, NOW,
            )  # fmt: skip
    finally:
        await conn.close()

    await asyncio.to_thread(_upgrade, old_stack, "intake", "head")

    conn = await asyncpg.connect(old_stack.raw_database_url)
    try:
        numbers = await conn.fetch(
            "SELECT case_id, case_number, holders FROM intake.cases ORDER BY received_at"
        )
    finally:
        await conn.close()
    assert [r["case_number"] for r in numbers] == ["SB20310506-000001", "SB20310506-000002"]
    assert json.loads(numbers[0]["holders"]) == {str(live): "wy-xingfu"}  # not the returned
    assert numbers[1]["holders"] is None  # no live dispatch known: nobody (fail closed)
    engine = make_engine(old_stack.settings(service_name="test"), pool_size=1)
    try:
        async with engine.begin() as c:
            drawn = await draw(c, [NOW + timedelta(hours=1)])
    finally:
        await engine.dispose()
    assert list(drawn.values()) == [["SB20310506-000003"]]  # after the stored cases
