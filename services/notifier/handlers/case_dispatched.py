"""Consumes ``case.dispatched``; makes one delivery per dispatch (per recipient owner),
and one status callback to the case's channel when it registered one.

Keys on ``(event_id, owner_id)``: a redelivered event makes no second delivery. An owner
with no registered endpoint gets a delivery in status ``no_endpoint`` so ops can see it.
The HTTP work is done by the delivery worker, never inside the consumer.
"""

from __future__ import annotations

from services.notifier.handlers.common import attachment_links, channel_owner, to_channel
from services.notifier.unit_of_work import NotifierUnit
from shared.contracts.events import CaseDispatched
from shared.domain.display import beijing, case_label

TIER_CN = {"simple": "简易类", "complex": "复杂类", "difficult": "疑难类"}


async def on_case_dispatched(uow: NotifierUnit, event: CaseDispatched) -> None:
    row = await uow.facts.get(event.case_id, tier=event.tier)
    found = await uow.endpoints.registered(
        [*(d.owner_id for d in event.dispatches), channel_owner(row.channel)]
    )
    number = case_label(row.case_number, event.case_id)
    files = attachment_links(uow, event.case_id, row.attachments)
    for d in event.dispatches:
        body = {
            "event": "case.dispatched",
            "event_id": str(uow.cause.id),
            "message": (
                f"【哨报派单】{d.owner_name}：诉求 {number}「{event.title}」"
                f"（{TIER_CN.get(event.tier, event.tier)}，{'主办' if d.role == 'lead' else '协办'}），"
                f"请于 {beijing(d.acknowledge_due_at)} 前签收，{beijing(d.resolve_due_at)} 前办结。"
                + (f"地址：{row.address}。" if row.address else "")
                + (f"诉求内容：{row.description}" if row.description else "")
                + (f"附件 {len(files)} 个，见 attachments。" if files else "")
            ),
            "case_id": str(event.case_id),
            "case_number": row.case_number,
            "category": event.category,
            "title": event.title,
            "description": row.description,
            "address": row.address,
            "attachments": files,
            "tier": event.tier,
            "location": event.location.model_dump(),
            "dispatch": d.model_dump(mode="json"),
        }
        await uow.deliveries.add(
            d.owner_id,
            body,
            case_id=event.case_id,
            dispatch_id=d.dispatch_id,
            status="pending" if d.owner_id in found else "no_endpoint",
        )
    await to_channel(
        uow,
        event.case_id,
        {
            "event": "case.dispatched",
            "event_id": str(uow.cause.id),
            "case_id": str(event.case_id),
            "status": "dispatched",
            "owners": [{"owner_id": d.owner_id, "role": d.role} for d in event.dispatches],
        },
        known=(row, found),
    )
