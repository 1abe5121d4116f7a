"""Intake's unit of work for consumer handlers: its record of each case as a channel sees
it, through a repository.

As in the router, escalation and the notifier, a handler says what happened; the
statements are the repository's::

    case = await uow.cases.get_for_update(event.case_id)
    case.resolved(event.outcome, event.summary, event.lead_owner_id, uow.now)

:func:`unit_handler` commits the unit when the handler is done: each changed case
(:class:`~shared.domain.intake_status.IntakeCase`) in one ``UPDATE``, so an event is a
locked read and at most one write. Two events change a case without reading it, each one
statement as before: ``case.dispatched`` (:meth:`IntakeCases.dispatched`, one
``UPDATE … FROM unnest`` for a consumer batch's events, behind ``HandlerContext.call``)
and ``case.classified`` (:meth:`IntakeCases.classified`).

Not to be confused with :class:`services.intake.unit.Unit`, the submission path's unit.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from pydantic import BaseModel
from sqlalchemy import bindparam, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.deps import IntakeDeps
from services.intake.tables import cases
from shared.contracts.envelope import Envelope
from shared.db.engine import json_dumps
from shared.domain.intake_status import BEHIND_DISPATCHED, IntakeCase, classification
from shared.messaging.consumer import Handler, HandlerContext, RetryLater

Unit = HandlerContext[IntakeDeps]


def not_stored(case_id: object) -> RetryLater:
    return RetryLater(f"case {case_id} not yet stored by intake")


class IntakeCases:
    """The cases of one unit, each read once under lock, written at commit."""

    def __init__(self, ctx: Unit) -> None:
        self._ctx = ctx
        self._seen: dict[UUID, IntakeCase] = {}

    async def get_for_update(self, case_id: UUID) -> IntakeCase:
        """The case, locked for the transaction; retried (RetryLater) until intake has
        stored it."""
        if case_id in self._seen:
            return self._seen[case_id]
        row = (await self._ctx.conn.execute(_LOCKED, {"b_case_id": case_id})).first()
        if row is None:
            raise not_stored(case_id)
        case = IntakeCase(
            case_id, row.status, row.status_at, dict(row.status_detail or {}),
            dict(row.holders or {}),
        )  # fmt: skip
        self._seen[case_id] = case
        return case

    async def dispatched(self, case_id: UUID, holders: Mapping[str, str], lead: str | None) -> None:
        """:meth:`IntakeCase.dispatched` in one statement, without a read: alone now, in
        a consumer batch with the batch's other cases at its flush (RetryLater there for
        a case not stored yet)."""
        params = {"case_id": case_id, "holders": dict(holders), "lead": lead, "at": self._ctx.now}
        await self._ctx.call(_dispatched, params, case_id=case_id)

    async def classified(self, case_id: UUID, category: str, location: dict[str, Any]) -> None:
        """The matter and place a person decided (:func:`classification`), one statement
        without a read."""
        done = await self._ctx.conn.execute(
            update(cases)
            .where(cases.c.case_id == case_id)
            .values(classification(category, location))
        )
        if done.rowcount == 0:
            raise not_stored(case_id)

    async def write(self) -> None:
        """Each changed case in one ``UPDATE`` of the columns it changed."""
        for case in self._seen.values():
            if case.changes:
                await self._ctx.conn.execute(
                    update(cases).where(cases.c.case_id == case.case_id).values(case.changes)
                )
                case.changes = {}


class IntakeUnit:
    """A consumer handler's unit in intake: when, the deps, the cause and the cases."""

    def __init__(self, ctx: Unit) -> None:
        self.conn: AsyncConnection = ctx.conn
        self.now: datetime = ctx.now
        self.deps: IntakeDeps = ctx.deps
        self.cause: Envelope = ctx.cause
        self.cases = IntakeCases(ctx)

    async def commit(self) -> None:
        """Write the changed cases into the transaction (its owner, the consumer, commits)."""
        await self.cases.write()


E = TypeVar("E", bound=BaseModel)


def unit_handler(handle: Callable[[IntakeUnit, E], Awaitable[None]]) -> Handler[E, IntakeDeps]:
    """A consumer handler that takes intake's unit and commits it when done."""

    async def run(ctx: Unit, event: E) -> None:
        unit = IntakeUnit(ctx)
        await handle(unit, event)
        await unit.commit()

    functools.update_wrapper(run, handle)  # its name, docs and the payload it consumes
    return run


_LOCKED = (
    select(cases.c.status, cases.c.status_at, cases.c.status_detail, cases.c.holders)
    .where(cases.c.case_id == bindparam("b_case_id"))
    .with_for_update()
)

# IntakeCase.dispatched for any number of cases in one statement: each dispatch joins
# ``holders`` (an entry already there, live or ended, stays), the owners with a live
# dispatch become status_detail's ``owners`` (sorted, each once), the lead its ``lead``
# while one of the lead's dispatches is live, and the status moves to dispatched only from
# a status ranked below it. Each case's dispatches go as one JSON object (arrays of arrays
# are rectangular in PostgreSQL).
_DISPATCHED = text(
    """
    UPDATE intake.cases AS c SET
      holders = u.holders || coalesce(c.holders, '{}'::jsonb),
      status_detail = coalesce(c.status_detail, '{}'::jsonb) || jsonb_build_object('owners', (
        SELECT coalesce(jsonb_agg(DISTINCT h.o ORDER BY h.o), '[]'::jsonb)
        FROM jsonb_each_text(u.holders || coalesce(c.holders, '{}'::jsonb)) AS h(d, o)
        WHERE h.o IS NOT NULL))
        || CASE WHEN EXISTS (
             SELECT 1 FROM jsonb_each_text(u.holders || coalesce(c.holders, '{}'::jsonb)) AS l(d, o)
             WHERE l.o = u.lead)
           THEN jsonb_build_object('lead', u.lead) ELSE '{}'::jsonb END,
      status = CASE WHEN c.status = ANY(CAST(:behind AS text[])) THEN 'dispatched'
               ELSE c.status END,
      status_at = CASE WHEN c.status = ANY(CAST(:behind AS text[])) THEN u.at
                  ELSE c.status_at END
    FROM unnest(CAST(:case_ids AS uuid[]), CAST(:holders AS jsonb[]),
                CAST(:ats AS timestamptz[]), CAST(:leads AS text[])) AS u(case_id, holders, at, lead)
    WHERE c.case_id = u.case_id
    RETURNING c.case_id
    """
)


async def _dispatched(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """A case appears once per batch: a second event of it flushed the first (the batch
    flushes before an event of a case with writes pending). Twice would merge only one
    event's owners, so it is refused (the batch's second pass applies each alone)."""
    if len({r["case_id"] for r in rows}) < len(rows):
        raise RuntimeError("a case twice in one status update")
    done = await conn.execute(
        _DISPATCHED,
        {
            "case_ids": [r["case_id"] for r in rows],
            "holders": [json_dumps(r["holders"]) for r in rows],
            "ats": [r["at"] for r in rows],
            "leads": [r["lead"] for r in rows],
            "behind": list(BEHIND_DISPATCHED),
        },
    )
    missing = {r["case_id"] for r in rows} - set(done.scalars())
    if missing:  # in a batch, its second pass finds which event is early
        named = ", ".join(sorted(map(str, missing))[:3]) + (" …" if len(missing) > 3 else "")
        raise RetryLater(f"case {named} not yet stored by intake ({len(missing)} of {len(rows)})")
