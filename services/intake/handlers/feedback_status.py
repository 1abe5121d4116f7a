"""Consumes case.resolved, case.closed and case.reopened; the status a channel sees
around the rating step.

``case.resolved`` → ``resolved`` (the channel may now rate it) and its result;
``case.closed`` → ``closed`` and its kind; ``case.reopened`` → ``dispatched`` (the router
reopens and redispatches in one transaction, so the second handling is already
dispatched). Keys on ``case_id``; an event for a case intake does not know is retried.
Each is a locked read and one update (the rules: :mod:`shared.domain.intake_status`).
"""

from __future__ import annotations

from services.intake.unit_of_work import IntakeUnit
from shared.contracts.events import CaseClosed, CaseReopened, CaseResolved


async def on_case_resolved(uow: IntakeUnit, event: CaseResolved) -> None:
    """Also keeps the result (outcome, summary, lead) for the rating page and the channel."""
    case = await uow.cases.get_for_update(event.case_id)
    case.resolved(event.outcome, event.summary, event.lead_owner_id, uow.now)


async def on_case_closed(uow: IntakeUnit, event: CaseClosed) -> None:
    case = await uow.cases.get_for_update(event.case_id)
    case.closed(event.kind, uow.now)


async def on_case_reopened(uow: IntakeUnit, event: CaseReopened) -> None:
    case = await uow.cases.get_for_update(event.case_id)
    case.reopened(uow.now)
