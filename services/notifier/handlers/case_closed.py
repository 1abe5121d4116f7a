"""Consumes ``case.closed``; the channel hears it (callback) and the notice, if the case
was published, records how it closed. Keys on ``case_id`` / ``(event_id, channel)``."""

from __future__ import annotations

from sqlalchemy import update

from services.notifier.handlers.common import to_channel
from services.notifier.tables import notices
from services.notifier.unit_of_work import NotifierUnit
from shared.contracts.events import CaseClosed


async def on_case_closed(uow: NotifierUnit, event: CaseClosed) -> None:
    await uow.conn.execute(
        update(notices)
        .where(notices.c.case_id == event.case_id)
        .values(closed_kind=event.kind, rating=event.rating)
    )
    await to_channel(
        uow,
        event.case_id,
        {
            "event": "case.closed",
            "event_id": str(uow.cause.id),
            "case_id": str(event.case_id),
            "status": "closed",
            "kind": event.kind,
            "rating": event.rating,
        },
    )
