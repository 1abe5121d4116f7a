"""Consumes ``case.classified``: a dispatcher decided the matter and the place of a case (a
pick from the triage queue, or a reclassification). Intake's record takes them, so its
repeat, rebound and alert counts and the channel's view use what the person decided.
Keys on ``case_id``; a case intake does not know yet is retried.
"""

from __future__ import annotations

from services.intake.unit_of_work import IntakeUnit
from shared.contracts.events import CaseClassified


async def on_case_classified(uow: IntakeUnit, event: CaseClassified) -> None:
    await uow.cases.classified(event.case_id, event.category, event.location.model_dump())
