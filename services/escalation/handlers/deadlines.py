"""Arms and disarms the per-dispatch deadline rows.

Consumes ``case.dispatched`` (arms acknowledge, progress and resolve clocks for every
dispatch, from the moment of dispatch, each with its reminder time and the policy frozen
onto the row) and ``dispatch.acknowledged`` (disarms the acknowledge clock only: the progress and
resolve clocks keep running, so an acknowledgement never silences a case; a progress clock
held because the dispatch was never acknowledged starts again from now). Keys on ``dispatch_id`` and ``kind``; each change bumps
``version``, the fencing token a stale timer is checked against.
"""

from __future__ import annotations

from services.escalation.ladder import remind_at
from services.escalation.unit_of_work import EscalationUnit
from shared.contracts.events import CaseDispatched, DispatchAcknowledged
from shared.ids import new_id


async def on_case_dispatched(uow: EscalationUnit, event: CaseDispatched) -> None:
    start = uow.cause.occurred_at
    frozen = uow.deps.policy.frozen(event.urgency) | {
        "location": event.location.model_dump(),
        "category": event.category,
    }
    for d in event.dispatches:
        clocks = {"acknowledge": d.acknowledge_due_at, "resolve": d.resolve_due_at}
        if d.progress_due_at is not None:
            clocks["progress"] = d.progress_due_at
        policy = frozen | {
            "dispatch_owner_id": d.owner_id,
            "role": d.role,
            "dispatched_at": start.isoformat(),
        }
        for kind, due in clocks.items():
            remind = remind_at(start, due, policy["reminder_share"])
            uow.deadlines.arm(
                {
                    "deadline_id": new_id(),
                    "case_id": event.case_id,
                    "dispatch_id": d.dispatch_id,
                    "owner_id": d.owner_id,
                    "kind": kind,
                    "due_at": due,
                    "remind_at": remind,
                    "next_at": remind or due,
                    "policy": policy,
                    "state": "armed",
                    "created_at": uow.now,
                    "updated_at": uow.now,
                }
            )


async def on_dispatch_acknowledged(uow: EscalationUnit, event: DispatchAcknowledged) -> None:
    from services.escalation.handlers.dispatch_progressed import restart_progress

    await uow.deadlines.disarm_dispatch(event.dispatch_id, ["acknowledge", "escalate.acknowledge"])
    await restart_progress(uow, event.dispatch_id, held_only=True)
