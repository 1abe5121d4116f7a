"""Case numbers drawn by concurrent transactions on real PostgreSQL: never the same twice,
also when two transactions number the first cases of a new day at once."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.intake.case_numbers import draw

pytestmark = pytest.mark.integration


async def _draw_in_own_transaction(
    engine: AsyncEngine, at: datetime, n: int, hold: float
) -> list[str]:
    async with engine.begin() as conn:
        drawn = await draw(conn, [at] * n)
        await asyncio.sleep(hold)  # keep the day's row uncommitted a while
    return next(iter(drawn.values()))


async def test_concurrent_transactions_on_a_new_day_draw_distinct_numbers_from_one(
    engine: AsyncEngine,
) -> None:
    # A day no other test numbers: 2031-03-04 10:00 in Shanghai.
    at = datetime(2031, 3, 4, 2, 0, tzinfo=UTC)
    batches = await asyncio.gather(
        *(_draw_in_own_transaction(engine, at, 5, hold=0.05 * (i % 3)) for i in range(8))
    )
    numbers = [n for batch in batches for n in batch]
    assert len(numbers) == len(set(numbers)) == 40
    assert all(re.fullmatch(r"SB20310304-\d{6}", n) for n in numbers)
    sequences = sorted(int(n[-6:]) for n in numbers)
    # The day counts from one; transactions racing for its first number may skip a few.
    assert sequences[0] <= 8 and sequences[-1] < 40 + 8


async def test_a_days_numbers_follow_the_shanghai_date(engine: AsyncEngine) -> None:
    late = datetime(2031, 3, 5, 15, 59, tzinfo=UTC)  # 23:59 in Shanghai
    async with engine.begin() as conn:
        drawn = await draw(conn, [late, late + timedelta(minutes=2)])
    assert sorted(d.isoformat() for d in drawn) == ["2031-03-05", "2031-03-06"]
