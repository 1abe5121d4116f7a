"""Consumes ``dispatch.extension_requested`` (延期申请): the approving office (the owner's
escalation parent, named on the event) is told a request waits for its decision at
``POST /v1/extensions/{dispatch_id}/decide``. Keys on ``(event_id, owner_id)``."""

from __future__ import annotations

from services.notifier.handlers.common import to_owners
from services.notifier.unit_of_work import NotifierUnit
from shared.contracts.events import ExtensionRequested
from shared.domain.display import beijing


async def on_extension_requested(uow: NotifierUnit, event: ExtensionRequested) -> None:
    if event.approver_id is None:
        return
    body = {
        "event": "dispatch.extension_requested",
        "event_id": str(uow.cause.id),
        "message": (
            f"【哨报延期审批】{event.owner_id} 申请延期 {event.working_days} 个工作日："
            f"{event.reason}。请审批（原办结时限 {beijing(event.resolve_due_at)}）"
        ),
        "case_id": str(event.case_id),
        "dispatch_id": str(event.dispatch_id),
        "owner_id": event.owner_id,
        "working_days": event.working_days,
        "resolve_due_at": event.resolve_due_at.isoformat(),
    }
    await to_owners(uow, [event.approver_id], body, case_id=event.case_id)
