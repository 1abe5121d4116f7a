"""Escalation's unit of work for consumer handlers: the clocks, whistles and extensions
one event changes, through repositories.

As in the router (:mod:`services.router.unit_of_work`), a handler takes a unit and says
what changes; the statements are the repositories'::

    await uow.deadlines.disarm_dispatch(event.dispatch_id)

:class:`EscalationUnit` wraps the consumer's :class:`~shared.messaging.consumer.HandlerContext`
(its transaction, time, typed deps, cause, emit): the batching stays there, behind
``defer`` (a batch's new clocks are one array insert). The deadline scanner's unit is
:class:`~services.escalation.fire_context.FireContext`, the same
:class:`~shared.db.unit.UnitOfWork` with the ladder's reads and writes.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from pydantic import BaseModel
from sqlalchemy import Row, insert, select, update

from services.escalation.deps import EscalationDeps
from services.escalation.tables import deadlines, extensions, whistle_members, whistles
from shared.contracts.envelope import Envelope
from shared.messaging.consumer import Handler, HandlerContext

Unit = HandlerContext[EscalationDeps]
ENDED = ["armed", "fired"]  # the states a clock is disarmed from (running, or ran out)


class DeadlineRepository:
    """The clocks (deadline rows) a handler arms, re-arms and disarms."""

    def __init__(self, ctx: Unit) -> None:
        self._ctx = ctx

    def arm(self, values: dict[str, Any]) -> None:
        """A new clock, with the transaction's other new clocks (one array insert for a
        consumer batch); one already stored (a redelivery) is skipped."""
        self._ctx.defer(deadlines, values, ignore_conflicts=True)

    async def arm_now(self, rows: list[dict[str, Any]]) -> None:
        """New clocks, inserted at once."""
        await self._ctx.conn.execute(insert(deadlines), rows)

    async def disarm_dispatch(self, dispatch_id: UUID, kinds: Iterable[str] | None = None) -> None:
        """Disarm the dispatch's clocks of ``kinds`` (all when None) that are running or
        ran out; each bumps its version (the fencing token a stale timer checks)."""
        stmt = update(deadlines).where(
            deadlines.c.dispatch_id == dispatch_id, deadlines.c.state.in_(ENDED)
        )
        if kinds is not None:
            stmt = stmt.where(deadlines.c.kind.in_(list(kinds)))
        await self._disarm(stmt)

    async def disarm_case(self, case_id: UUID, kind: str) -> None:
        """Disarm the case's clocks of ``kind`` that are running or ran out."""
        await self._disarm(
            update(deadlines).where(
                deadlines.c.case_id == case_id,
                deadlines.c.kind == kind,
                deadlines.c.state.in_(ENDED),
            )
        )

    async def _disarm(self, stmt: Any) -> None:
        now = self._ctx.now
        await self._ctx.conn.execute(
            stmt.values(state="disarmed", updated_at=now, version=deadlines.c.version + 1)
        )

    async def armed_of_case(self, case_id: UUID, kind: str) -> UUID | None:
        """The case's running clock of ``kind``, if any."""
        found: UUID | None = await self._ctx.conn.scalar(
            select(deadlines.c.deadline_id).where(
                deadlines.c.case_id == case_id,
                deadlines.c.kind == kind,
                deadlines.c.state == "armed",
            )
        )
        return found

    async def progress_clock(self, dispatch_id: UUID) -> Row[Any] | None:
        """The dispatch's keep-in-touch clock, locked (None: the tier has none)."""
        row: Row[Any] | None = (
            await self._ctx.conn.execute(
                select(deadlines)
                .where(deadlines.c.dispatch_id == dispatch_id, deadlines.c.kind == "progress")
                .with_for_update()
            )
        ).first()
        return row

    async def rearm(self, deadline_id: UUID, values: dict[str, Any]) -> None:
        """Arm a clock again with ``values``; its version moves."""
        await self._ctx.conn.execute(
            update(deadlines)
            .where(deadlines.c.deadline_id == deadline_id)
            .values(
                {"state": "armed", **values, "updated_at": self._ctx.now,
                 "version": deadlines.c.version + 1}
            )
        )  # fmt: skip


class WhistleRepository:
    """Whistles (吹哨) and the units they convene."""

    def __init__(self, ctx: Unit) -> None:
        self._ctx = ctx

    async def add(self, values: dict[str, Any], convened: list[str]) -> None:
        """A whistle, open, and each convened unit's membership."""
        await self._ctx.conn.execute(insert(whistles).values(**values, state="open"))
        await self._ctx.conn.execute(
            insert(whistle_members),
            [{"whistle_id": values["whistle_id"], "owner_id": o, "state": "convened"}
             for o in convened],
        )  # fmt: skip


class ExtensionRepository:
    """Extension requests (延期申请) waiting for a supervisor."""

    def __init__(self, ctx: Unit) -> None:
        self._ctx = ctx

    async def pending(self, dispatch_id: UUID) -> UUID | None:
        """The dispatch's open request, if any."""
        found: UUID | None = await self._ctx.conn.scalar(
            select(extensions.c.extension_id).where(
                extensions.c.dispatch_id == dispatch_id, extensions.c.state == "pending"
            )
        )
        return found

    async def add(self, values: dict[str, Any]) -> None:
        await self._ctx.conn.execute(insert(extensions).values(**values, state="pending"))


class EscalationUnit:
    """A consumer handler's unit in escalation: when, the deps, the cause, the
    repositories, and the events it emits (committed with the transaction)."""

    def __init__(self, ctx: Unit) -> None:
        self._ctx = ctx
        self.now: datetime = ctx.now
        self.deps: EscalationDeps = ctx.deps
        self.cause: Envelope = ctx.cause
        self.deadlines = DeadlineRepository(ctx)
        self.whistles = WhistleRepository(ctx)
        self.extensions = ExtensionRepository(ctx)

    def emit(self, payload: BaseModel, case_id: UUID | None = None) -> None:
        """An event, staged for the outbox (``case_id``: the cause's case by default)."""
        self._ctx.emit(payload, case_id)


E = TypeVar("E", bound=BaseModel)


def unit_handler(
    handle: Callable[[EscalationUnit, E], Awaitable[None]],
) -> Handler[E, EscalationDeps]:
    """A consumer handler that takes escalation's unit."""

    async def run(ctx: Unit, event: E) -> None:
        await handle(EscalationUnit(ctx), event)

    functools.update_wrapper(run, handle)  # its name, docs and the payload it consumes
    return run
