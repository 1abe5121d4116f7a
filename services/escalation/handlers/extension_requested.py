"""Consumes ``dispatch.extension_requested`` (延期申请); stores it pending for a supervisor of
the owner (``POST /v1/extensions/{dispatch_id}/decide``). The clock keeps running until an
approval moves it. One open request per dispatch: one arriving while another waits is
dropped (the router already refuses it). Keys on the event (inbox); emits nothing.
"""

from __future__ import annotations

from services.escalation.unit_of_work import EscalationUnit
from shared.contracts.events import ExtensionRequested
from shared.ids import new_id


async def on_extension_requested(uow: EscalationUnit, event: ExtensionRequested) -> None:
    if await uow.extensions.pending(event.dispatch_id) is not None:
        return  # the router refuses a second; an older event must not add one
    await uow.extensions.add(
        {
            "extension_id": new_id(),
            "case_id": event.case_id,
            "dispatch_id": event.dispatch_id,
            "owner_id": event.owner_id,
            "working_days": event.working_days,
            "reason": event.reason,
            "resolve_due_at": event.resolve_due_at,
            "requested_at": uow.cause.occurred_at,
        }
    )
