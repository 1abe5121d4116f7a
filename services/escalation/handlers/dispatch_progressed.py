"""Consumes ``dispatch.progressed``: the keep-in-touch clock starts again from now.

The progress row is re-armed with the same working-time length it was first given (frozen
at dispatch), a new reminder, and ``version`` bumped; the ladder the old progress clock
started is disarmed. Keys on ``dispatch_id`` + kind ``progress``; a dispatch without a
keep-in-touch clock (simple tier) is left alone.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from services.escalation.ladder import remind_at
from services.escalation.unit_of_work import EscalationUnit
from shared.contracts.events import DispatchProgressed


async def on_dispatch_progressed(uow: EscalationUnit, event: DispatchProgressed) -> None:
    await restart_progress(uow, event.dispatch_id, held_only=False)


async def restart_progress(uow: EscalationUnit, dispatch_id: UUID, *, held_only: bool) -> None:
    """Re-arm the progress clock from now (``held_only``: only one held for want of 签收)."""
    row = await uow.deadlines.progress_clock(dispatch_id)
    held = row is not None and (row.policy or {}).get("held") == "unacknowledged"
    if row is None or (held_only and not held) or (row.state == "disarmed" and not held):
        return
    await uow.deadlines.disarm_dispatch(dispatch_id, ["escalate.progress"])
    calendar = uow.deps.calendar
    policy = row.policy or {}
    started = datetime.fromisoformat(policy.get("dispatched_at") or row.created_at.isoformat())
    length = calendar.working_time_between(started, row.due_at) / timedelta(days=1)
    due = calendar.add_working_days(uow.now, round(length, 4))
    remind = remind_at(uow.now, due, policy.get("reminder_share", 0.75))
    await uow.deadlines.rearm(
        row.deadline_id,
        {
            "due_at": due,
            "remind_at": remind,
            "reminded_at": None,
            "next_at": remind or due,
            "fired_at": None,
            "policy": {k: v for k, v in policy.items() if k != "held"}
            | {"dispatched_at": uow.now.isoformat()},
        },
    )
