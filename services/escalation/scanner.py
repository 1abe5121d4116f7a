"""The deadline scanner: a background task of every escalation replica.

Each pass claims up to ``batch`` armed rows whose ``next_at`` has come (the reminder time,
then the due time), ``FOR UPDATE SKIP LOCKED`` so replicas never take the same row, and
fires them with their effects and outbox events in the same transaction: set-based
(:mod:`services.escalation.staged`: the batch's cases locked in one statement, sorted,
their ladders and overdue clocks read once, the writes sent as array statements), in one
savepoint. When that fails, each half of the batch is tried on its own, down to a row
alone, fired by :func:`services.escalation.firing.fire` in its own savepoint: a failing
row is retried alone a minute later and never stalls the others. Report-in rows are always
fired alone. A full batch is followed at once by the next; otherwise it waits
``poll_seconds``, and longer (doubling, to ``idle_poll_seconds``) while passes find
nothing due (:mod:`shared.polling`); a moved test clock wakes it. Nothing is held in
memory: a restart loses no deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from services.escalation.deps import EscalationDeps
from services.escalation.firing import FireContext, fire, is_reminder
from services.escalation.metrics import FIRED, OVERDUE, PENDING
from services.escalation.staged import ALONE_KINDS, StagedFire
from services.escalation.tables import deadlines, outbox
from shared.clock import Clock
from shared.db.types import inline
from shared.polling import IdlePoll

log = structlog.get_logger(__name__)
GAUGE_EVERY = 5.0
RETRY_FAILED = timedelta(minutes=1)


def due_rows(now: datetime, limit: int) -> Select[Any]:
    """Up to ``limit`` armed rows whose time has come, oldest first, claimed (through the
    partial index ``ix_deadlines_armed_next``: the state is inline, see ``inline``)."""
    return (
        select(deadlines)
        .where(deadlines.c.state == inline("armed"), deadlines.c.next_at <= now)
        .order_by(deadlines.c.next_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


class DeadlineScanner:
    def __init__(
        self,
        engine: AsyncEngine,
        clock: Clock,
        deps: EscalationDeps,
        *,
        on_committed: Callable[[], None] = lambda: None,
        batch: int = 1000,
        poll_seconds: float = 0.2,
        idle_poll_seconds: float | None = None,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._deps = deps
        self._on_committed = on_committed
        self.batch = batch
        self.poll = IdlePoll(poll_seconds, idle_poll_seconds)

    def wake(self) -> None:
        """Scan now (e.g. the test clock moved: rows may have fallen due)."""
        self.poll.wake()

    async def run(self) -> None:
        gauges = asyncio.create_task(self._gauges())
        try:
            while True:
                self.poll.begin()
                try:
                    done = await self.scan_once()
                except Exception as exc:  # the database may be away; try again next pass
                    log.warning("deadline_scan_failed", error=repr(exc)[:300])
                    done = 0
                if done < self.batch:
                    await self.poll.wait(found=done > 0)
        finally:
            gauges.cancel()
            await asyncio.gather(gauges, return_exceptions=True)

    async def _gauges(self) -> None:
        """The pending and overdue gauges every few seconds, beside the passes (two counts
        over every armed row: never between a storm's batches)."""
        while True:
            try:
                await self.measure()
            except Exception as exc:
                log.warning("deadline_gauges_failed", error=repr(exc)[:300])
            await asyncio.sleep(GAUGE_EVERY)

    async def scan_once(self) -> int:
        """Claim and fire one batch of due rows; returns how many were claimed."""
        async with self._engine.begin() as conn:
            ctx = FireContext(conn=conn, now=self._clock.now(), deps=self._deps)
            rows = (await conn.execute(due_rows(ctx.now, self.batch))).all()
            await self._fire_rows(ctx, [r for r in rows if r.kind not in ALONE_KINDS])
            for row in rows:
                if row.kind in ALONE_KINDS:
                    await self._fire_one(ctx, row)
            await ctx.flush(outbox)
        if ctx.events:
            self._on_committed()
        return len(rows)

    async def _fire_rows(self, ctx: FireContext, rows: list[Any]) -> None:
        """Set-based; when that fails, each half on its own (in claim order), down to a
        row alone, fired in its savepoint: a bad row costs a few retries of ever smaller
        batches, the others still fire set-based."""
        if len(rows) == 1:
            await self._fire_one(ctx, rows[0])
        elif rows and not await self._fire_together(ctx, rows):
            half = len(rows) // 2
            await self._fire_rows(ctx, rows[:half])
            await self._fire_rows(ctx, rows[half:])

    async def _fire_together(self, ctx: FireContext, rows: list[Any]) -> bool:
        """Fire ``rows`` set-based (:mod:`services.escalation.staged`) in one savepoint;
        False (nothing done) when it failed."""
        staged = StagedFire(conn=ctx.conn, now=ctx.now, deps=ctx.deps)
        try:
            async with ctx.conn.begin_nested():
                expiring = [r for r in rows if not is_reminder(r, ctx.now)]
                busy = await staged.load(expiring)
                if busy:
                    log.debug("deadline_cases_busy", cases=len(busy))
                for row in rows:
                    if row.case_id not in busy or is_reminder(row, ctx.now):
                        await fire(staged, row)
                await staged.write_staged()
        except Exception as exc:
            log.warning("deadline_batch_failed", rows=len(rows), error=repr(exc)[:300])
            return False
        ctx.events.extend(staged.events)
        return True

    async def _fire_one(self, ctx: FireContext, row: Any) -> None:
        """Fire in a savepoint: a row that fails is put back a minute later, alone, so one
        bad row never stalls the others."""
        staged = len(ctx.events)
        try:
            async with ctx.conn.begin_nested():
                await fire(ctx, row)
        except Exception as exc:
            del ctx.events[staged:]
            FIRED.labels("failed").inc()
            log.error("deadline_fire_failed", deadline_id=str(row.deadline_id), error=repr(exc))
            await ctx.conn.execute(
                update(deadlines)
                .where(deadlines.c.deadline_id == row.deadline_id)
                .values(next_at=ctx.now + RETRY_FAILED)
            )

    async def measure(self) -> None:
        now = self._clock.now()
        armed = deadlines.c.state == inline("armed")
        async with self._engine.connect() as conn:
            PENDING.set(await conn.scalar(select(func.count()).where(armed)) or 0)
            OVERDUE.set(
                await conn.scalar(select(func.count()).where(armed, deadlines.c.due_at <= now)) or 0
            )
