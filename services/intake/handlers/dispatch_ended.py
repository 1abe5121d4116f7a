"""Consumes ``dispatch.returned`` and ``dispatch.cancelled``: the dispatch's owner no longer
holds the case, so it no longer sees the petitioner (issue 17).

Keys on ``case_id``; a case intake does not know yet is retried. **Decision:** intake
keeps which dispatches are live itself (``cases.holders``, the rules in
:mod:`shared.domain.intake_status`) rather than asking the router at each read: the
petitioner's contact is intake's to guard, and the router already tells every dispatch's
start and end on the bus.
"""

from __future__ import annotations

from services.intake.unit_of_work import IntakeUnit
from shared.contracts.events import DispatchCancelled, DispatchReturned


async def on_dispatch_returned(uow: IntakeUnit, event: DispatchReturned) -> None:
    case = await uow.cases.get_for_update(event.case_id)
    case.dispatch_ended(event.dispatch_id, event.owner_id)


async def on_dispatch_cancelled(uow: IntakeUnit, event: DispatchCancelled) -> None:
    case = await uow.cases.get_for_update(event.case_id)
    case.dispatch_ended(event.dispatch_id, event.owner_id)
