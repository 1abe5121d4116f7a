"""Consumes ``case.reminder`` (催办); one delivery to the owner of the dispatch.

Keys on ``(event_id, owner_id)``. Owners are organisations, so no quiet hours apply.
"""

from __future__ import annotations

from services.notifier.handlers.common import to_owners
from services.notifier.unit_of_work import NotifierUnit
from shared.contracts.events import CaseReminder
from shared.domain.display import beijing

CLOCK_CN = {"acknowledge": "签收", "progress": "进展报告", "resolve": "办结", "report_in": "报到"}


async def on_case_reminder(uow: NotifierUnit, event: CaseReminder) -> None:
    body = {
        "event": "case.reminder",
        "event_id": str(uow.cause.id),
        "message": f"【哨报催办】{event.reason}（{CLOCK_CN.get(event.clock, '')}时限 {beijing(event.due_at)}）",
        "case_id": str(event.case_id),
        "dispatch_id": str(event.dispatch_id) if event.dispatch_id else None,
        "clock": event.clock,
        "due_at": event.due_at.isoformat(),
    }
    await to_owners(uow, [event.owner_id], body, case_id=event.case_id)
