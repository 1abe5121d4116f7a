"""A short-lived engine for one CLI command, and the clock every service reads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db.engine import make_engine
from shared.db.platform import test_clock
from shared.settings import Settings


@asynccontextmanager
async def transaction(settings: Settings) -> AsyncIterator[AsyncConnection]:
    engine = make_engine(settings.for_service("cli"), pool_size=1)
    try:
        async with engine.begin() as conn:
            yield conn
    finally:
        await engine.dispose()


async def shared_now(conn: AsyncConnection, settings: Settings) -> datetime:
    """The one clock every service reads (the test clock's offset when it is enabled)."""
    now = datetime.now(UTC)
    if settings.test_clock:
        offset = await conn.scalar(select(test_clock.c.offset_seconds).where(test_clock.c.id == 1))
        now += timedelta(seconds=float(offset or 0))
    return now
