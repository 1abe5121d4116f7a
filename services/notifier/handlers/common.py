"""What the notifier's handlers share: making deliveries and finding who should get them."""

from __future__ import annotations

from functools import cache
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import orjson
from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from services.notifier.handlers import Unit
from services.notifier.tables import DELIVERIES_POLLER, case_facts, deliveries, endpoints
from shared.db.batch import BatchCall, array_cast, array_values
from shared.ids import new_id
from shared.messaging.consumer import RetryLater


def channel_owner(channel: str) -> str:
    """A channel's callback is stored as an endpoint named ``channel:<channel>``."""
    return f"channel:{channel}"


_ACTIVE = select(endpoints.c.owner_id).where(endpoints.c.active)


async def registered(ctx: Unit, owner_ids: list[str]) -> set[str]:
    """Which of ``owner_ids`` have an active endpoint: read once per transaction (a
    batch of events), as of its first read; an endpoint registered meanwhile counts from
    the next batch. Endpoints are one per owner or channel, a few hundred rows at most."""
    active: set[str] | None = ctx.memo.get("active_endpoints")
    if active is None:
        active = set((await ctx.conn.execute(_ACTIVE)).scalars())
        ctx.memo["active_endpoints"] = active
    return active.intersection(owner_ids)


async def add_delivery(
    ctx: Unit,
    owner_id: str,
    body: dict[str, Any],
    *,
    case_id: UUID | None,
    dispatch_id: UUID | None = None,
    status: str = "pending",
    not_before: Any = None,
) -> None:
    """One delivery per (event, recipient): a redelivered event adds nothing.

    Deferred to the batch's multi-row insert: no handler reads deliveries back.
    """
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


async def to_owners(
    ctx: Unit, owners: list[str], body: dict[str, Any], *, case_id: UUID | None
) -> None:
    """A delivery per owner; an owner with no endpoint gets ``no_endpoint`` for ops to see."""
    found = await registered(ctx, owners)
    for owner in dict.fromkeys(owners):
        status = "pending" if owner in found else "no_endpoint"
        await add_delivery(ctx, owner, body | {"owner_id": owner}, case_id=case_id, status=status)


async def facts(ctx: Unit, case_id: UUID, **learnt: Any) -> Any:
    """What the notifier learnt of a case from ``case.received``; retried until it has.

    ``learnt``: columns to set on the way (one ``UPDATE ... RETURNING``, one round trip).
    In a batch the facts of every case of the batch are read at the first call, and what
    is learnt joins one array update at the flush: no statement per event. A case's
    facts are taken from that read once; a second event of the case in the batch (after
    the flush its pending update causes) reads them again."""
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


async def to_channel(
    ctx: Unit,
    case_id: UUID,
    body: dict[str, Any],
    *,
    known: tuple[Any, set[str] | None] | None = None,
) -> None:
    """The channel the case came from hears its status change, if it registered a callback,
    with its own work-order number (``external_id``) and the case number on every body.

    A walk-in case names its first receiver (首问负责人) as ``tracker``: the window's system
    routes every change to the staff member who took it.

    ``known``: the case's facts and the registered owners (None: not read yet), when the
    caller already read them.
    """
    row, found = known if known is not None else (await facts(ctx, case_id), None)
    owner = channel_owner(row.channel)
    if owner in (found if found is not None else await registered(ctx, [owner])):
        extra = {
            "channel": row.channel,
            "tracker": row.received_by,
            "external_id": row.external_id,  # the channel's own work-order number
            "case_number": row.case_number,
        }
        await add_delivery(ctx, owner, body | extra, case_id=case_id)


def attachment_links(
    ctx: Unit, case_id: UUID, stored: list[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    """The case's attachments as links to the router (the holder fetches them with its
    key), never the bytes."""
    base = ctx.deps.config.router_url.rstrip("/")
    return [
        {**a, "url": f"{base}/v1/cases/{case_id}/attachments/{a['attachment_id']}"}
        for a in stored or []
    ]
