"""Consumes case.dispatched and dispatch.acknowledged; keeps the status a channel sees
(and, with ``dispatch_ended``, which dispatches are live).

Keys on ``case_id``. Status only moves forward, so an event that arrives late never moves
a case back; an event for a case intake does not know is retried (the rules:
:mod:`shared.domain.intake_status`).
"""

from __future__ import annotations

from services.intake.unit_of_work import IntakeUnit
from shared.contracts.events import CaseDispatched, DispatchAcknowledged


async def on_case_dispatched(uow: IntakeUnit, event: CaseDispatched) -> None:
    """Also remembers each dispatch and its owner: only an owner holding a live dispatch
    may see the petitioner's (masked) contact. One statement, without a read; in a
    consumer batch, one statement for the batch's events at its flush."""
    holders = {str(d.dispatch_id): d.owner_id for d in event.dispatches}
    lead = next((d.owner_id for d in event.dispatches if d.role == "lead"), None)
    await uow.cases.dispatched(event.case_id, holders, lead)


async def on_dispatch_acknowledged(uow: IntakeUnit, event: DispatchAcknowledged) -> None:
    case = await uow.cases.get_for_update(event.case_id)
    case.acknowledged(uow.now)
