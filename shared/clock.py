"""The one clock every service reads.

``SystemClock`` is wall time. ``OffsetClock`` adds an offset stored in PostgreSQL
(``platform.test_clock``) so that ``shaobao clock advance 3d`` moves time for every
service at once; it is refused in production by the settings.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

import structlog
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db.platform import test_clock

log = structlog.get_logger(__name__)


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def database_now(clock: Clock) -> ColumnElement[datetime]:
    """The time by the database's clock, for leases that processes share.

    Two processes must judge a lease by one clock, or both may hold it: hosts' clocks
    drift apart, and with the test clock a replica that has not yet read the offset
    ``shaobao clock advance`` wrote is minutes behind one that has, so a lease it takes
    looks long lapsed to the other (two notifiers then sent one delivery at once). This
    is ``statement_timestamp()``, plus the test offset read in the same statement.
    """
    at: ColumnElement[datetime] = func.statement_timestamp()
    if isinstance(clock, OffsetClock):
        offset = select(test_clock.c.offset_seconds).where(test_clock.c.id == 1).scalar_subquery()
        at = at + func.make_interval(0, 0, 0, 0, 0, 0, func.coalesce(offset, 0))
    return at


class OffsetClock:
    """Wall time plus an offset refreshed from the database in the background."""

    def __init__(self, engine: AsyncEngine, refresh_seconds: float = 0.2) -> None:
        self._engine = engine
        self._offset = timedelta(0)
        self._refresh = refresh_seconds
        self._task: asyncio.Task[None] | None = None
        self._moved: list[Callable[[], None]] = []

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def on_move(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` whenever a refresh finds a new offset (a test moved time):
        pollers that back off while idle look again at once."""
        self._moved.append(callback)

    async def refresh(self) -> None:
        async with self._engine.connect() as conn:
            value = await conn.scalar(
                select(test_clock.c.offset_seconds).where(test_clock.c.id == 1)
            )
        offset = timedelta(seconds=float(value or 0))
        moved, self._offset = offset != self._offset, offset
        if moved:
            for callback in self._moved:
                callback()

    async def start(self) -> None:
        with contextlib.suppress(Exception):
            await self.refresh()
        self._task = asyncio.create_task(self._loop(), name="offset-clock")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._refresh)
            try:
                await self.refresh()
            except Exception as exc:  # the database may be restarting; keep the last offset
                log.warning("clock_refresh_failed", error=str(exc))
