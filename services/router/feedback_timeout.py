"""No rating within the window closes a case as ``no_feedback`` (回访无果).

A background sweep in the router: cases waiting for feedback longer than
``SHAOBAO_FEEDBACK_WINDOW_HOURS`` (default 7 days, on the shared clock) are claimed with
``FOR UPDATE SKIP LOCKED`` (replicas share the work), closed through the state machine,
given a timeline row and a ``case.closed`` event, all in one transaction. A key person's
case (重点人员) is never closed so: its 回访 is made by a person (the community office is
told when the result is in), and it waits, listed by ``GET /v1/cases?state=
awaiting_feedback&key_person=true``, until that visit's rating arrives.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import Row, select

from services.router.tables import cases, dispatches
from services.router.unit_of_work import OwnSink, RouterUnit
from shared.domain.lifecycle import CaseState
from shared.domain.taxonomy import CloseKind
from shared.runtime import ServiceRuntime

log = structlog.get_logger(__name__)
BATCH = 100


class FeedbackTimeout:
    def __init__(self, runtime: ServiceRuntime, *, poll_seconds: float = 2.0) -> None:
        self.rt = runtime
        self.window = timedelta(hours=runtime.settings.feedback_window_hours)
        self.poll = poll_seconds

    async def run(self) -> None:
        while True:
            try:
                closed = await self.sweep_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database away: try again next round
                log.warning("feedback_timeout_sweep_failed", error=repr(exc))
                closed = 0
            if closed < BATCH:
                await asyncio.sleep(self.poll)

    async def sweep_once(self) -> int:
        now = self.rt.clock.now()
        async with self.rt.engine.begin() as conn:
            rows = (
                await conn.execute(
                    select(cases)
                    .where(
                        cases.c.state == CaseState.AWAITING_FEEDBACK.value,
                        cases.c.updated_at <= now - self.window,
                        cases.c.key_person.is_(False),  # 回访 by a person: never closed here
                    )
                    .limit(BATCH)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            sink = OwnSink(conn=conn, now=now, deps=self.rt.deps)
            unit = RouterUnit(sink, now=now, deps=self.rt.deps)
            for row in rows:
                await self._close(unit, row)
            await unit.commit()
            await sink.write()
        if sink.events:
            self.rt.poke_relay()
        return len(rows)

    async def _close(self, unit: RouterUnit, row: Row[Any]) -> None:
        case = unit.cases.adopt(row)
        lead = await unit.conn.scalar(
            select(dispatches.c.owner_id).where(
                dispatches.c.case_id == case.case_id,
                dispatches.c.role == "lead",
                dispatches.c.state == "resolved",
            )
        )
        days = self.window.total_seconds() / 86400
        kind = CloseKind.NO_FEEDBACK
        case.close(kind, unit.now, actor="router", lead_owner_id=lead, detail={"kind": kind.value},
                   reason=f"回访 {days:g} 天内无评价，按「无反馈」结案")  # fmt: skip
