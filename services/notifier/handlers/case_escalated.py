"""Consumes ``case.escalated`` (督办/升级); deliveries to the level it went to and to the
owner it came from. Keys on ``(event_id, owner_id)``."""

from __future__ import annotations

from services.notifier.handlers.common import to_owners
from services.notifier.unit_of_work import NotifierUnit
from shared.contracts.events import CaseEscalated


async def on_case_escalated(uow: NotifierUnit, event: CaseEscalated) -> None:
    body = {
        "event": "case.escalated",
        "event_id": str(uow.cause.id),
        "message": f"【哨报督办】升级至 {event.level}：{event.reason}",
        "case_id": str(event.case_id),
        "dispatch_id": str(event.dispatch_id) if event.dispatch_id else None,
        "level": event.level,
        "from_owner_id": event.from_owner_id,
        "to_owner_id": event.to_owner_id,
        "next_due_at": event.next_due_at.isoformat() if event.next_due_at else None,
    }
    await to_owners(uow, [event.to_owner_id, event.from_owner_id], body, case_id=event.case_id)
