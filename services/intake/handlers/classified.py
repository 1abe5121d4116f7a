"""Consumes ``case.classified``: a dispatcher decided the matter and the place of a case (a
pick from the triage queue, or a reclassification). Intake's record takes them, so its
repeat, rebound and alert counts and the channel's view use what the person decided.
Keys on ``case_id``; a case intake does not know yet is retried.
"""

from __future__ import annotations

from sqlalchemy import update

from services.intake.handlers import Unit
from services.intake.tables import cases
from shared.contracts.events import CaseClassified
from shared.domain.intake_rules import places
from shared.messaging.consumer import RetryLater


async def on_case_classified(ctx: Unit, event: CaseClassified) -> None:
    location = event.location.model_dump()
    where = places(location)
    done = await ctx.conn.execute(
        update(cases)
        .where(cases.c.case_id == event.case_id)
        .values(
            category=event.category,
            location=location,
            community=where["community"],
            grid=where["grid"],
            compound=where["compound"],
        )
    )
    if done.rowcount == 0:
        raise RetryLater(f"case {event.case_id} not yet stored by intake")
