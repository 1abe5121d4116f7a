"""The notifier's unit of work for consumer handlers: what it knows of cases, who has an
endpoint, and the deliveries it makes, through repositories.

As in the router and escalation, a handler says what it needs and what to send::

    case = await uow.facts.get(event.case_id, tier=event.tier)
    found = await uow.endpoints.registered([d.owner_id for d in event.dispatches])
    await uow.deliveries.add(owner_id, body, case_id=event.case_id)

:class:`NotifierUnit` wraps the consumer's :class:`~shared.messaging.consumer.HandlerContext`.
The batching is the repositories', invisible to handlers: a batch reads every case's facts
in one statement at the first ``facts.get`` and what it learns joins one array update; the
endpoints are read once per batch; deliveries and new facts are the batch's array inserts.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import cache
from types import SimpleNamespace
from typing import Any, TypeVar
from uuid import UUID

import orjson
from pydantic import BaseModel
from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.notifier.deps import NotifierDeps
from services.notifier.petitioner import PETITIONER_ENDPOINT
from services.notifier.tables import DELIVERIES_POLLER, case_facts, deliveries, endpoints
from shared.contracts.envelope import Envelope
from shared.db.batch import BatchCall, array_cast, array_values
from shared.ids import new_id
from shared.messaging.consumer import Handler, HandlerContext, RetryLater

Unit = HandlerContext[NotifierDeps]


class CaseFacts:
    """What the notifier learnt of each case from ``case.received`` (``case_facts``)."""

    def __init__(self, ctx: Unit) -> None:
        self._ctx = ctx

    def add(self, values: dict[str, Any]) -> None:
        """A case's facts, with the batch's array insert (a redelivery adds nothing)."""
        self._ctx.defer(case_facts, values, ignore_conflicts=True)

    async def get(self, case_id: UUID, **learnt: Any) -> Any:
        """The case's facts; retried (RetryLater) until ``case.received`` stored them.

        ``learnt``: columns to set on the way (one ``UPDATE ... RETURNING``, one round
        trip). In a batch the facts of every case of the batch are read at the first call,
        and what is learnt joins one array update at the flush: no statement per event. A
        case's facts are taken from that read once; a second event of the case in the
        batch (after the flush its pending update causes) reads them again."""
        ctx = self._ctx
        known: dict[UUID, Any] | None = None
        if ctx.batched:
            known = ctx.memo.get("facts")
            if known is None:
                rows = await ctx.conn.execute(_FACTS_OF, {"ids": list(ctx.peers)})
                known = ctx.memo["facts"] = {r.case_id: r for r in rows}
        row = known.pop(case_id, None) if known is not None else None
        if row is not None:
            if not learnt:
                return row
            run = _learn_many(tuple(sorted(learnt)))
            ctx.defer_call(run, {"case_id": case_id, **learnt}, case_id=case_id)
            return SimpleNamespace(**(row._asdict() | learnt))
        stmt = _learn(tuple(sorted(learnt))) if learnt else _FACTS
        params = {"b_case_id": case_id} | {f"b_{k}": v for k, v in learnt.items()}
        row = (await ctx.conn.execute(stmt, params)).first()
        if row is None:
            raise RetryLater(f"case {case_id} not yet known to the notifier")
        return row


class Endpoints:
    """Who can be sent to: the registered, active endpoints."""

    def __init__(self, ctx: Unit) -> None:
        self._ctx = ctx

    async def registered(self, owner_ids: list[str]) -> set[str]:
        """Which of ``owner_ids`` have an active endpoint: read once per transaction (a
        batch of events), as of its first read; an endpoint registered meanwhile counts
        from the next batch. Endpoints are one per owner or channel, a few hundred rows."""
        memo = self._ctx.memo
        active: set[str] | None = memo.get("active_endpoints")
        if active is None:
            active = set((await self._ctx.conn.execute(_ACTIVE)).scalars())
            memo["active_endpoints"] = active
        return active.intersection(owner_ids)

    async def ensure_petitioner(self) -> None:
        """The petitioner's endpoint (messages go out through intake's contact store)."""
        await self._ctx.conn.execute(
            pg_insert(endpoints)
            .values(
                owner_id=PETITIONER_ENDPOINT, url="intake:contact", secret_enc=b"",
                kind="petitioner",
            )
            .on_conflict_do_nothing()
        )  # fmt: skip


class Deliveries:
    """The deliveries the handlers make; the delivery worker sends them after the commit."""

    def __init__(self, ctx: Unit) -> None:
        self._ctx = ctx

    async def add(
        self,
        owner_id: str,
        body: dict[str, Any],
        *,
        case_id: UUID | None,
        dispatch_id: UUID | None = None,
        status: str = "pending",
        not_before: Any = None,
    ) -> None:
        """One delivery per (event, recipient): a redelivered event adds nothing.

        Deferred to the batch's multi-row insert: no handler reads deliveries back. One
        due now wakes the delivery worker once the transaction commits.
        """
        ctx = self._ctx
        ctx.defer(
            deliveries,
            {
                "delivery_id": new_id(),
                "event_id": ctx.cause.id,
                "event_type": ctx.cause.type,
                "case_id": case_id,
                "dispatch_id": dispatch_id,
                "owner_id": owner_id,
                "body": orjson.dumps(body),
                "status": status,
                "next_attempt_at": not_before or ctx.now,
                "created_at": ctx.now,
            },
            ignore_conflicts=True,
        )
        if status == "pending" and (not_before is None or not_before <= ctx.now):
            ctx.wake(DELIVERIES_POLLER)  # due now: the worker claims it after the commit


class NotifierUnit:
    """A consumer handler's unit in the notifier: when, the deps, the cause, the
    repositories, and the transaction's connection (notices are written directly)."""

    def __init__(self, ctx: Unit) -> None:
        self.conn: AsyncConnection = ctx.conn
        self.now: datetime = ctx.now
        self.deps: NotifierDeps = ctx.deps
        self.cause: Envelope = ctx.cause
        self.facts = CaseFacts(ctx)
        self.endpoints = Endpoints(ctx)
        self.deliveries = Deliveries(ctx)


E = TypeVar("E", bound=BaseModel)


def unit_handler(handle: Callable[[NotifierUnit, E], Awaitable[None]]) -> Handler[E, NotifierDeps]:
    """A consumer handler that takes the notifier's unit."""

    async def run(ctx: Unit, event: E) -> None:
        await handle(NotifierUnit(ctx), event)

    functools.update_wrapper(run, handle)  # its name, docs and the payload it consumes
    return run


_ACTIVE = select(endpoints.c.owner_id).where(endpoints.c.active)
_FACTS = select(case_facts).where(case_facts.c.case_id == bindparam("b_case_id"))
_FACTS_OF = select(case_facts).where(
    case_facts.c.case_id
    == func.any(bindparam("ids", type_=postgresql.ARRAY(case_facts.c.case_id.type)))
)


@cache
def _learn(columns: tuple[str, ...]) -> Any:
    """Built once per set of columns (a statement object per call cost more than running it)."""
    return (
        update(case_facts)
        .where(case_facts.c.case_id == bindparam("b_case_id"))
        .values({c: bindparam(f"b_{c}") for c in columns})
        .returning(*case_facts.c)
    )


@cache
def _learn_many(columns: tuple[str, ...]) -> BatchCall:
    """The batch's updates of ``columns``, one statement over arrays (one function per
    set of columns: the batch groups its calls by function)."""
    casts = ", ".join(array_cast(case_facts.c[c], f"c_{c}") for c in columns)
    sets = ", ".join(f"{c} = u.{c}" for c in columns)
    stmt = text(
        f"UPDATE notifier.case_facts AS f SET {sets}"
        f" FROM unnest(CAST(:case_ids AS uuid[]), {casts}) AS u(case_id, {', '.join(columns)})"
        " WHERE f.case_id = u.case_id RETURNING f.case_id"
    )

    async def run(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
        params = {"case_ids": [r["case_id"] for r in rows]} | {
            f"c_{c}": array_values(case_facts.c[c], [r[c] for r in rows]) for c in columns
        }
        done = len((await conn.execute(stmt, params)).all())
        if done != len(rows):  # read in this transaction, so never: the second pass decides
            raise RetryLater(f"{len(rows) - done} of {len(rows)} cases' facts are gone")

    return run
