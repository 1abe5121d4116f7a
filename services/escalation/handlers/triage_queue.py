"""The dispatchers' queue clock (待派单时限).

Consumes ``case.held_for_triage`` (arms a ``triage`` clock on the desk office, due when the
router said, with a reminder like any clock, so an overdue queue climbs the desk's ladder
exactly as an overdue dispatch does) and ``case.classified`` (a person decided: the case's
triage clocks stop; a running ladder of them stops at its next rung, as all are answered).
Keys on ``case_id``: a repeat of the same hold finds the clock already armed.
"""

from __future__ import annotations

from services.escalation.ladder import remind_at
from services.escalation.unit_of_work import EscalationUnit
from shared.contracts.events import CaseClassified, CaseHeldForTriage
from shared.ids import new_id

KIND = "triage"


async def on_case_held_for_triage(uow: EscalationUnit, event: CaseHeldForTriage) -> None:
    if await uow.deadlines.armed_of_case(event.case_id, KIND) is not None:
        return
    start = uow.cause.occurred_at
    policy = uow.deps.policy.frozen(event.urgency) | {
        "location": event.location.model_dump(),
        "category": "unclassified",
        "dispatch_owner_id": event.desk_owner_id,
        "role": "desk",
        "dispatched_at": start.isoformat(),
    }
    remind = remind_at(start, event.due_at, policy["reminder_share"])
    await uow.deadlines.arm_now([{
        "deadline_id": new_id(), "case_id": event.case_id, "dispatch_id": None,
        "owner_id": event.desk_owner_id, "kind": KIND, "due_at": event.due_at,
        "remind_at": remind, "next_at": remind or event.due_at, "policy": policy,
        "state": "armed", "created_at": uow.now, "updated_at": uow.now,
    }])  # fmt: skip


async def on_case_classified(uow: EscalationUnit, event: CaseClassified) -> None:
    await uow.deadlines.disarm_case(event.case_id, KIND)
