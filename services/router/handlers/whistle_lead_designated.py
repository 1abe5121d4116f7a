"""Consumes ``whistle.lead_designated``; dispatches the disputed case to the designated lead
and co-handlers with fresh clocks (from now), and emits ``case.dispatched``. Every open
dispatch the new plan does not keep is cancelled first, disputed case or case in hand alike
(:mod:`services.router.redispatch`); a case in hand keeps its state. The lead dispatch
remembers the designating office (``designated_by_owner``).

Keys on ``case_id``: a case not stored yet is retried; a case no longer disputed (already
re-dispatched) is left alone.
"""

from __future__ import annotations

import structlog
from sqlalchemy import update

from services.router.redispatch import plan_decision, redispatch
from services.router.tables import cases
from services.router.unit_of_work import HandlerUnit
from shared.contracts.events import WhistleLeadDesignated
from shared.domain.lifecycle import CaseState
from shared.messaging.consumer import RetryLater

log = structlog.get_logger(__name__)


async def on_whistle_lead_designated(uow: HandlerUnit, event: WhistleLeadDesignated) -> None:
    case = await uow.cases.get_for_update(event.case_id)
    if case is None:
        raise RetryLater(f"case {event.case_id} not stored yet")
    await uow.conn.execute(  # the whistle has done its work: no longer "whistle open"
        update(cases).where(cases.c.case_id == case.case_id).values(whistle_open=False)
    )
    if case.state is not CaseState.DISPUTED and not case.in_hand:
        log.info("lead_designation_ignored", case_id=str(case.case_id), state=case.state.value)
        return
    decision = plan_decision(uow, case, event.lead_owner_id, list(event.co_handler_ids))
    case.note(
        uow.now,
        actor=event.designated_by,
        action="lead_designated",
        reason=f"吹哨报到后指定主办 {uow.deps.owners.name_of(event.lead_owner_id)}"
        + (f"，协办 {'、'.join(event.co_handler_ids)}" if event.co_handler_ids else ""),
        rule_version=decision.ruleset_version,
        detail={"whistle_id": str(event.whistle_id)},
    )
    await redispatch(
        uow,
        case,
        decision,
        designated_by=event.designated_by_owner,
        reason="吹哨报到后重新指定责任单位，本派单不再保留",
    )
