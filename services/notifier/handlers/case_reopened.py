"""Consumes ``case.reopened`` (二次办理 after an unsatisfied rating); the case's channel
hears it on its callback, with who leads the second handling. Keys on
``(event_id, channel)``."""

from __future__ import annotations

from services.notifier.handlers.common import to_channel
from services.notifier.unit_of_work import NotifierUnit
from shared.contracts.events import CaseReopened

RATING_CN = {"satisfied": "满意", "basically_satisfied": "基本满意", "unsatisfied": "不满意"}


async def on_case_reopened(uow: NotifierUnit, event: CaseReopened) -> None:
    lead = uow.deps.owners.get(event.lead_owner_id)
    name = lead.name if lead is not None else event.lead_owner_id
    await to_channel(
        uow,
        event.case_id,
        {
            "event": "case.reopened",
            "event_id": str(uow.cause.id),
            "case_id": str(event.case_id),
            "status": "reopened",
            "rating": event.rating,
            "lead_owner_id": event.lead_owner_id,
            "lead_owner_name": name,
            "message": (
                f"【二次办理】评价为“{RATING_CN.get(event.rating, event.rating)}”，"
                f"诉求重新办理，由{name}牵头。"
            ),
        },
    )
