"""Consumes ``whistle.blown`` (吹哨); one delivery to every convened department, asking
it to report in (报到) by the due time. Keys on ``(event_id, owner_id)``."""

from __future__ import annotations

from services.notifier.handlers.common import to_owners
from services.notifier.unit_of_work import NotifierUnit
from shared.contracts.events import WhistleBlown
from shared.domain.display import beijing


async def on_whistle_blown(uow: NotifierUnit, event: WhistleBlown) -> None:
    body = {
        "event": "whistle.blown",
        "event_id": str(uow.cause.id),
        "message": (f"【哨报吹哨】请于 {beijing(event.report_in_due_at)} 前报到：{event.reason}"),
        "case_id": str(event.case_id),
        "whistle_id": str(event.whistle_id),
        "category": event.category,
        "convened": event.convened,
        "report_in_due_at": event.report_in_due_at.isoformat(),
    }
    await to_owners(uow, list(event.convened), body, case_id=event.case_id)
