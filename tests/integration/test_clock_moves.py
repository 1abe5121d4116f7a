"""A moved test clock calls back (OffsetClock.on_move): escalation and the notifier
register their scanner's and delivery worker's wake with it (ServiceRuntime.clock_moved),
so after ``shaobao clock advance`` they look again at once, not after their idle wait."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.clock import OffsetClock
from shared.db.platform import test_clock

pytestmark = pytest.mark.integration


async def test_a_refresh_that_finds_a_new_offset_calls_back_once(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        before = await conn.scalar(select(test_clock.c.offset_seconds).where(test_clock.c.id == 1))
        await conn.execute(
            pg_insert(test_clock)
            .values(id=1, offset_seconds=float(before or 0), enabled=True)
            .on_conflict_do_nothing()
        )
    clock = OffsetClock(engine)
    moved: list[float] = []
    clock.on_move(lambda: moved.append(clock.now().timestamp()))
    try:
        await clock.refresh()  # the offset it starts from (a move from zero, or none)
        moved.clear()
        await clock.refresh()
        assert moved == []  # nothing moved
        async with engine.begin() as conn:
            await conn.execute(
                update(test_clock)
                .where(test_clock.c.id == 1)
                .values(offset_seconds=test_clock.c.offset_seconds + 3600)
            )
        await clock.refresh()
        assert len(moved) == 1
        await clock.refresh()
        assert len(moved) == 1
    finally:
        async with engine.begin() as conn:
            await conn.execute(
                update(test_clock)
                .where(test_clock.c.id == 1)
                .values(offset_seconds=float(before or 0))
            )
