"""Consumes ``case.disputed``; blows the whistle (吹哨) and emits ``whistle.blown``.

The whistle is blown by the street office of the case's location (else the next rung up)
and convenes the owners the router names as involved, else the category's configured
default. Each convened owner gets a ``report_in`` deadline row, due after the policy's
report-in time counted in office hours of working days (wall clock for an emergency).
A whistle that could convene no one is not blown: ``whistle.unconvened`` says the case is
for a dispatcher to assign by hand (the triage queue, another issue, is to consume it). Keys on the event (inbox):
a case disputed again later gets a new whistle.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import structlog

from services.escalation.ladder import whistle_blower
from services.escalation.unit_of_work import EscalationUnit
from shared.contracts.events import CaseDisputed, WhistleBlown, WhistleUnconvened
from shared.domain.taxonomy import Location
from shared.ids import new_id
from shared.messaging.consumer import Poison

log = structlog.get_logger(__name__)


async def on_case_disputed(uow: EscalationUnit, event: CaseDisputed) -> None:
    deps = uow.deps
    location = Location(**event.location.model_dump())
    street = whistle_blower(deps.owners, location)
    blower = deps.owners.get(event.blown_by) if event.blown_by else street
    if blower is None:
        raise Poison(f"该地点无街道及以上单位可吹哨 (nobody to blow the whistle at {location})")
    convened = list(
        dict.fromkeys(event.owners_involved or deps.policy.default_convened.get(event.category, []))
    )
    if not convened:
        log.warning("whistle_without_members", case_id=str(event.case_id), reason=event.reason)
        uow.emit(
            WhistleUnconvened(
                case_id=event.case_id, category=event.category, reason=event.reason,
                location=event.location, blown_by=blower.id,
            )
        )  # fmt: skip
        return
    whistle_id = new_id()
    due = deps.policy.report_in_due(deps.calendar, uow.now, event.urgency)
    await uow.whistles.add(
        {
            "whistle_id": whistle_id,
            "case_id": event.case_id,
            "category": event.category,
            "location": event.location.model_dump(),
            "blown_by": blower.id,
            "reason": event.reason,
            "report_in_due_at": due,
            "created_at": uow.now,
        },
        convened,
    )
    await _report_in_clocks(uow, event, whistle_id, convened, due)
    uow.emit(
        WhistleBlown(
            whistle_id=whistle_id,
            case_id=event.case_id,
            category=event.category,
            blown_by=blower.id,
            reason=event.reason,
            convened=convened,
            report_in_due_at=due,
            location=event.location,
        )
    )


async def _report_in_clocks(
    uow: EscalationUnit, event: CaseDisputed, whistle_id: UUID, convened: list[str], due: datetime
) -> None:
    """Each convened unit's ``report_in`` clock."""
    rows = [
        {
            "deadline_id": new_id(),
            "case_id": event.case_id,
            "whistle_id": whistle_id,
            "owner_id": owner_id,
            "kind": "report_in",
            "due_at": due,
            "next_at": due,
            "policy": {"location": event.location.model_dump(), "category": event.category},
            "state": "armed",
            "created_at": uow.now,
            "updated_at": uow.now,
        }
        for owner_id in convened
    ]
    await uow.deadlines.arm_now(rows)
