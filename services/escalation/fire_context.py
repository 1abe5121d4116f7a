"""The statements the firing rules make, one row at a time.

:mod:`~services.escalation.firing`, :mod:`~services.escalation.climb` and
:mod:`~services.escalation.backlog` read and write deadlines and escalations only through a
:class:`FireContext`. This one runs each statement at once, in the caller's transaction (the
per-row path: tests, and a row fired alone in a savepoint); its subclass
:class:`~services.escalation.staged.StagedFire` answers the same calls for a whole claimed
batch from a few set-based reads, keeps the writes and sends them as array statements, so
the rules are written once for both paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import Row, func, insert, or_, select, text, update

from services.escalation.climb import BASE_CLOCKS
from services.escalation.deps import EscalationDeps
from services.escalation.metrics import FIRED, LATENESS
from services.escalation.tables import deadlines, escalations
from shared.db.unit import UnitOfWork

LOCK_CASE = "SELECT pg_advisory_xact_lock(hashtext(:k))"


@dataclass(kw_only=True, eq=False)
class FireContext(UnitOfWork[EscalationDeps]):
    """One scanner transaction (a :class:`~shared.db.unit.UnitOfWork`): connection, time,
    the service's deps and the events to stage, and the ladder's reads and writes."""

    producer: str = "escalation"

    def count(self, outcome: str, kind: str, late: float | None) -> None:
        """The metrics of one fired row (``late``: seconds past due, when it expired)."""
        FIRED.labels(outcome).inc()
        if late is not None:
            LATENESS.labels(kind).observe(late)

    async def fence(self, row: Row[Any]) -> bool:
        """Take the fencing token: False when the timer is stale (moved since claimed)."""
        fenced = await self.conn.scalar(
            update(deadlines)
            .where(
                deadlines.c.deadline_id == row.deadline_id,
                deadlines.c.version == row.version,
                deadlines.c.state == "armed",
            )
            .values(version=deadlines.c.version + 1, updated_at=self.now)
            .returning(deadlines.c.version)
        )
        return fenced is not None

    async def set(self, row: Any, **values: Any) -> None:
        """Change a claimed (or ladder) row's columns; the version is not moved."""
        await self.update_deadline(row.deadline_id, values, bump=False)

    async def update_deadline(
        self, deadline_id: UUID, values: dict[str, Any], *, bump: bool
    ) -> None:
        if bump:
            values = values | {"version": deadlines.c.version + 1}
        await self.conn.execute(
            update(deadlines).where(deadlines.c.deadline_id == deadline_id).values(**values)
        )

    async def insert_deadline(self, values: dict[str, Any]) -> None:
        await self.conn.execute(insert(deadlines).values(**values))

    async def acknowledge_state(self, dispatch_id: UUID | None) -> str | None:
        state: str | None = await self.conn.scalar(
            select(deadlines.c.state).where(
                deadlines.c.dispatch_id == dispatch_id, deadlines.c.kind == "acknowledge"
            )
        )
        return state

    async def lock_case(self, case_id: UUID) -> None:
        """The case's ladder lock, held to the end of the transaction."""
        await self.conn.execute(text(LOCK_CASE), {"k": str(case_id)})

    async def ladder_row(self, case_id: UUID) -> Row[Any] | None:
        """The case's running ladder or backlog row (legacy ``escalate.<clock>`` rows too)."""
        found: Row[Any] | None = (
            await self.conn.execute(
                select(deadlines)
                .where(deadlines.c.case_id == case_id, is_ladder(), deadlines.c.state == "armed")
                .order_by(deadlines.c.level.desc())
                .limit(1)
                .with_for_update()
            )
        ).first()
        return found

    async def overdue_clocks(self, case_id: UUID) -> list[Row[Any]]:
        """The case's clocks that ran out and were not answered since (unordered)."""
        return list(
            (
                await self.conn.execute(
                    select(deadlines).where(
                        deadlines.c.case_id == case_id,
                        deadlines.c.kind.in_(BASE_CLOCKS),
                        deadlines.c.state == "fired",
                    )
                )
            ).all()
        )

    async def insert_escalation(self, values: dict[str, Any]) -> None:
        await self.conn.execute(insert(escalations).values(**values))

    async def join_open_escalation(self, case_id: UUID, note: str) -> None:
        """Append ``note`` to the case's latest ladder escalation (not a report-in's)."""
        open_step = await self.conn.scalar(
            select(func.max(escalations.c.created_at)).where(
                escalations.c.case_id == case_id, escalations.c.clock != "report_in"
            )
        )
        await self.conn.execute(
            update(escalations)
            .where(
                escalations.c.case_id == case_id,
                escalations.c.created_at == open_step,
                escalations.c.clock != "report_in",
            )
            .values(reason=escalations.c.reason + note)
        )

    async def set_backlog_policy(self, case_id: UUID, policy: dict[str, Any]) -> None:
        """The policy of the case's armed backlog row."""
        await self.conn.execute(
            update(deadlines)
            .where(
                deadlines.c.case_id == case_id,
                deadlines.c.kind == "backlog",
                deadlines.c.state == "armed",
            )
            .values(policy=policy)
        )


def is_ladder() -> Any:
    """A case's ladder or backlog row (``escalate.case``, legacy ``escalate.<clock>``)."""
    return or_(deadlines.c.kind.like("escalate.%"), deadlines.c.kind == "backlog")
