"""The router's unit of work: one transaction's cases and dispatches, written once.

Department actions (:class:`services.router.actions.common.ActionContext`), consumer
handlers (:class:`HandlerUnit`, see :func:`unit_handler`) and the feedback sweep all
change cases the same way::

    case = await uow.cases.get_for_update(case_id)
    case.close(kind, uow.now, actor=..., reason=...)
    await uow.commit()

The aggregates (:mod:`shared.domain.case`, :mod:`shared.domain.dispatch`) run the state
machine and record timeline entries and events in the unit's journal, in the order they
happened. :meth:`RouterUnit.commit` writes each changed aggregate's state, columns and
``version + moves`` (the only place the router writes a version), then hands the
journal to the transaction's sink: timeline rows to its deferred array insert, events to
its outbox. The batching stays where it was, behind the sink: a consumer batch's rows
are still one insert per table for the whole batch; a repository read writes pending
changes first, so a read in the transaction sees every earlier write.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar
from uuid import UUID

from pydantic import BaseModel
from sqlalchemy import Row, Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.router.deps import RouterDeps
from services.router.tables import cases, dispatches, outbox, routing_decisions, timeline
from shared.contracts.envelope import Envelope
from shared.db.unit import UnitOfWork
from shared.domain.case import Case
from shared.domain.dispatch import Dispatch
from shared.domain.journal import Emitted, Entry, Recorded
from shared.domain.lifecycle import OPEN_DISPATCH_STATES, CaseState, DispatchRole, DispatchState
from shared.domain.routing import RoutingDecision
from shared.messaging.consumer import Handler, HandlerContext


class Sink(Protocol):
    """Where a transaction's rows and events go: its :class:`~shared.db.unit.UnitOfWork`
    (a consumer's HandlerContext, one array insert per table for its batch, or an
    action's :class:`OwnSink`)."""

    conn: AsyncConnection

    def defer(self, table: Table, values: dict[str, Any]) -> None: ...

    def emit(self, payload: BaseModel, case_id: UUID) -> None: ...


@dataclass(kw_only=True, eq=False)
class OwnSink(UnitOfWork[RouterDeps]):
    """The unit of a transaction outside a consumer (a department action, the feedback
    sweep): its own deferred rows and staged events; :meth:`write` puts them in the
    database (a consumer's :class:`HandlerContext` is the same :class:`UnitOfWork`)."""

    producer: str = "router"

    async def write(self) -> None:
        await self.flush(outbox)


@dataclass(frozen=True, slots=True)
class _Row:
    table: Table
    values: dict[str, Any]


class RouterUnit:
    """One transaction of the router: repositories of aggregates and an ordered journal."""

    def __init__(
        self, sink: Sink, *, now: datetime, deps: RouterDeps, batched: bool = False
    ) -> None:
        self.sink = sink
        self.conn = sink.conn
        self.now = now
        self.deps = deps
        self.batched = batched  # in a consumer batch: inserts may be optimistic
        self.journal: list[Recorded | _Row] = []
        self.cases = CaseRepository(self)
        self.dispatches = DispatchRepository(self)

    def emit(self, payload: BaseModel, case_id: UUID) -> None:
        self.journal.append(Emitted(payload, case_id))

    def defer(self, table: Table, values: dict[str, Any]) -> None:
        """A row to insert with the transaction's deferred rows (timeline rows keep their
        order among the aggregates' entries)."""
        self.journal.append(_Row(table, values))

    def record_decision(
        self, case_id: UUID, decision: RoutingDecision, extra: dict[str, Any] | None = None
    ) -> None:
        """The case's routing record (``routing_decisions``) as the decision's JSON plus
        ``extra``; the JSON of a remembered decision is made once (``RouterDeps``)."""
        stored = self.deps.stored_form(decision)
        self.defer(
            routing_decisions,
            {
                "case_id": case_id,
                "decided_at": self.now,
                "ruleset_version": decision.ruleset_version,
                "decision": stored | extra if extra else stored,
            },
        )

    async def write(self) -> None:
        """Write every changed case and dispatch (state, columns, version) now."""
        await self.cases.write()
        await self.dispatches.write()

    async def commit(self) -> None:
        """Write the aggregates, then hand the journal to the transaction (whose owner,
        the consumer or the route, commits it)."""
        await self.write()
        sink = self.sink
        for item in self.journal:
            if isinstance(item, Entry):
                sink.defer(timeline, _timeline_row(item))
            elif isinstance(item, Emitted):
                sink.emit(item.payload, item.case_id)
            else:
                sink.defer(item.table, item.values)
        self.journal.clear()


class HandlerUnit(RouterUnit):
    """A consumer handler's unit: also the event that caused it."""

    def __init__(self, ctx: HandlerContext[RouterDeps]) -> None:
        super().__init__(ctx, now=ctx.now, deps=ctx.deps, batched=ctx.batched)
        self.cause: Envelope = ctx.cause


# A transaction of the router as code shared by handlers and actions takes it: a unit, or
# a plain handler's context (conn, now, deps, defer, emit).
RouterTx = RouterUnit | HandlerContext[RouterDeps]

E = TypeVar("E", bound=BaseModel)


def unit_handler(handle: Callable[[HandlerUnit, E], Awaitable[None]]) -> Handler[E, RouterDeps]:
    """A consumer handler that takes the router's unit and commits it when done."""

    async def run(ctx: HandlerContext[RouterDeps], event: E) -> None:
        unit = HandlerUnit(ctx)
        await handle(unit, event)
        await unit.commit()

    functools.update_wrapper(run, handle)  # its name, docs and the payload it consumes
    return run


def _timeline_row(e: Entry) -> dict[str, Any]:
    return {
        "case_id": e.case_id, "dispatch_id": e.dispatch_id, "at": e.at, "actor": e.actor,
        "action": e.action, "from_state": e.from_state, "to_state": e.to_state,
        "reason": e.reason, "rule_version": e.rule_version, "detail": e.detail,
    }  # fmt: skip


_STORED = select(cases.c.case_id).where(cases.c.case_id == bindparam("case_id"))


class CaseRepository:
    """Cases of one unit, each loaded once (identity map), written at flush."""

    def __init__(self, unit: RouterUnit) -> None:
        self._unit = unit
        self._seen: dict[UUID, Case] = {}
        self._rows: dict[UUID, Row[Any]] = {}
        self._new: dict[UUID, dict[str, Any]] = {}  # cases added in this unit, not yet written

    async def get_for_update(self, case_id: UUID) -> Case | None:
        """The case, locked for the transaction (None when not stored)."""
        if case_id in self._seen:
            return self._seen[case_id]
        stmt = select(cases).where(cases.c.case_id == case_id).with_for_update()
        row = (await self._unit.conn.execute(stmt)).first()
        return None if row is None else self.adopt(row)

    def adopt(self, row: Row[Any]) -> Case:
        """The aggregate of a case row the caller already holds locked."""
        found = self._seen.get(row.case_id)
        if found is not None:
            return found
        case = Case(
            case_id=row.case_id, state=CaseState(row.state), version=row.version,
            ruleset_version=row.ruleset_version, category=row.category,
            location=dict(row.location), urgency=row.urgency, title=row.title,
            key_person=bool(row.key_person), channel=row.channel,
            second_handling=bool(row.second_handling), journal=self._unit.journal,  # type: ignore[arg-type]
        )  # fmt: skip
        self._seen[row.case_id] = case
        self._rows[row.case_id] = row
        return case

    def row(self, case: Case) -> Row[Any]:
        """The row the case was loaded from (columns the aggregate does not carry)."""
        return self._rows[case.case_id]

    async def add(self, case: Case, columns: dict[str, Any]) -> bool:
        """Take a new case (:meth:`Case.received`) into the unit, with the ``columns`` of
        its row the aggregate does not carry; False, and nothing taken, when it is stored
        already (the same ``case.received`` again).

        Its row is written once, when the unit writes: in the state, version and columns
        the case has reached by then (received, triaged and dispatched in one handler is
        one insert, no update). In a consumer batch the row joins the batch's array insert
        without asking first: a stored case fails that insert, the batch rolls back and
        its second pass (each event alone) comes back here, where the repository asks.
        """
        if not self._unit.batched and await self._stored(case.case_id):
            return False
        self._unit.journal.extend(case.journal)  # its first entry, in the unit's order
        case.journal = self._unit.journal  # type: ignore[assignment]
        self._seen[case.case_id] = case
        self._new[case.case_id] = columns
        return True

    async def _stored(self, case_id: UUID) -> bool:
        return await self._unit.conn.scalar(_STORED, {"case_id": case_id}) is not None

    def is_new(self, case: Case) -> bool:
        """Added in this unit (its row is not stored before the unit writes)."""
        return case.case_id in self._new

    async def write(self) -> None:
        for case in self._seen.values():
            changes = case.changes
            columns = self._new.pop(case.case_id, None)
            if columns is not None:
                row = columns | changes.values | {
                    "case_id": case.case_id, "state": case.state.value,
                    "version": case.version, "updated_at": self._unit.now,
                }  # fmt: skip
                if self._unit.batched:  # the batch's array insert (parents before children)
                    self._unit.sink.defer(cases, row)
                else:
                    await self._unit.conn.execute(insert(cases).values(row))
            elif changes.pending:
                await self._unit.conn.execute(
                    update(cases)
                    .where(cases.c.case_id == case.case_id)
                    .values(state=case.state.value, updated_at=self._unit.now,
                            version=cases.c.version + max(changes.moves, 1), **changes.values)
                )  # fmt: skip
            changes.clear()


class DispatchRepository:
    """Dispatches of one unit, each loaded once, written at flush (returning the row)."""

    def __init__(self, unit: RouterUnit) -> None:
        self._unit = unit
        self._seen: dict[UUID, Dispatch] = {}
        self._rows: dict[UUID, Row[Any]] = {}

    async def get_for_update(self, dispatch_id: UUID) -> Dispatch | None:
        if dispatch_id in self._seen:
            return self._seen[dispatch_id]
        stmt = select(dispatches).where(dispatches.c.dispatch_id == dispatch_id).with_for_update()
        row = (await self._unit.conn.execute(stmt)).first()
        return None if row is None else self.adopt(row)

    async def of_case(self, case_id: UUID, *, open_only: bool = False) -> list[Dispatch]:
        """The case's dispatches, oldest first (``open_only``: still open, locked)."""
        await self.write()
        stmt = select(dispatches).where(dispatches.c.case_id == case_id)
        if open_only:
            stmt = stmt.where(dispatches.c.state.in_(OPEN_DISPATCH_STATES)).with_for_update()
        else:
            stmt = stmt.order_by(dispatches.c.created_at)
        return [self.adopt(r) for r in (await self._unit.conn.execute(stmt)).all()]

    def adopt(self, row: Row[Any]) -> Dispatch:
        found = self._seen.get(row.dispatch_id)
        if found is not None:
            return found
        dispatch = Dispatch(
            dispatch_id=row.dispatch_id, case_id=row.case_id, owner_id=row.owner_id,
            role=DispatchRole(row.role), state=DispatchState(row.state), version=row.version,
            ruleset_version=row.ruleset_version, policy=dict(row.policy or {}),
            resolve_due_at=row.resolve_due_at, acknowledged_at=row.acknowledged_at,
            outcome=row.outcome, journal=self._unit.journal,  # type: ignore[arg-type]
        )  # fmt: skip
        self._seen[row.dispatch_id] = dispatch
        self._rows[row.dispatch_id] = row
        return dispatch

    async def row(self, dispatch: Dispatch) -> Row[Any]:
        """The dispatch's row as stored now (pending changes written first)."""
        await self.write()
        return self._rows[dispatch.dispatch_id]

    async def write(self) -> None:
        for d in self._seen.values():
            changes = d.changes
            if not changes.pending:
                continue
            self._rows[d.dispatch_id] = (
                await self._unit.conn.execute(
                    update(dispatches)
                    .where(dispatches.c.dispatch_id == d.dispatch_id)
                    .values(
                        state=d.state.value,
                        updated_at=self._unit.now,
                        version=dispatches.c.version + max(changes.moves, 1),
                        **changes.values,
                    )
                    .returning(*dispatches.c)
                )
            ).one()
            changes.clear()
