"""Consumes ``dispatch.progressed``; the case's channel hears each progress note (进展) on
its callback (with links to any photos attached), so a 12345 agent need not copy it back
by hand. Keys on
``(event_id, channel)``."""

from __future__ import annotations

from services.notifier.handlers.common import attachment_links, to_channel
from services.notifier.unit_of_work import NotifierUnit
from shared.contracts.events import DispatchProgressed
from shared.domain.display import beijing


async def on_dispatch_progressed(uow: NotifierUnit, event: DispatchProgressed) -> None:
    owner = uow.deps.owners.get(event.owner_id)
    name = owner.name if owner is not None else event.owner_id
    await to_channel(
        uow,
        event.case_id,
        {
            "event": "dispatch.progressed",
            "event_id": str(uow.cause.id),
            "case_id": str(event.case_id),
            "status": "in_progress",
            "owner_id": event.owner_id,
            "owner_name": name,
            "note": event.note,
            "at": event.at.isoformat(),
            "attachments": attachment_links(
                uow, event.case_id, [a.model_dump(mode="json") for a in event.attachments]
            ),
            "message": f"【办理进展】{beijing(event.at)} {name}：{event.note}",
        },
    )
