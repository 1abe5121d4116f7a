"""Consumes ``case.dispatched``; makes one delivery per dispatch (per recipient owner).

Keys on ``(event_id, owner_id)``: a redelivered event makes no second delivery. An owner
with no registered endpoint gets a delivery in status ``no_endpoint`` so ops can see it.
The HTTP work is done by the delivery worker, never inside the consumer.
"""

from __future__ import annotations

import orjson
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.notifier.tables import deliveries, endpoints
from shared.contracts.events import CaseDispatched
from shared.ids import new_id
from shared.messaging.consumer import HandlerContext

TIER_CN = {"simple": "简易类", "complex": "复杂类", "difficult": "疑难类"}


async def on_case_dispatched(ctx: HandlerContext, event: CaseDispatched) -> None:
    owners = [d.owner_id for d in event.dispatches]
    registered = set(
        (
            await ctx.conn.execute(
                select(endpoints.c.owner_id).where(
                    endpoints.c.owner_id.in_(owners), endpoints.c.active
                )
            )
        ).scalars()
    )
    rows = []
    for d in event.dispatches:
        body = {
            "event": "case.dispatched",
            "event_id": str(ctx.cause.id),
            "message": (
                f"【哨报派单】{d.owner_name}：请于 {d.acknowledge_due_at:%Y-%m-%d %H:%M} UTC 前签收，"
                f"{d.resolve_due_at:%Y-%m-%d %H:%M} UTC 前办结。事项：{event.title}"
                f"（{TIER_CN.get(event.tier, event.tier)}，{'主办' if d.role == 'lead' else '协办'}）"
            ),
            "case_id": str(event.case_id),
            "category": event.category,
            "title": event.title,
            "tier": event.tier,
            "location": event.location.model_dump(),
            "dispatch": d.model_dump(mode="json"),
        }
        rows.append(
            {
                "delivery_id": new_id(),
                "event_id": ctx.cause.id,
                "event_type": ctx.cause.type,
                "case_id": event.case_id,
                "dispatch_id": d.dispatch_id,
                "owner_id": d.owner_id,
                "body": orjson.dumps(body),
                "status": "pending" if d.owner_id in registered else "no_endpoint",
                "next_attempt_at": ctx.now,
                "created_at": ctx.now,
            }
        )
    await ctx.conn.execute(pg_insert(deliveries).on_conflict_do_nothing(), rows)


HANDLERS = {"case.dispatched": on_case_dispatched}
