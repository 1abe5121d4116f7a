"""Consumes ``case.received``; remembers the case's channel, category, place, number,
content and ``petitioner_ref`` (never raw contact details), for callbacks, notices and
messages.

Keys on ``case_id``: a redelivery changes nothing. The row is deferred to the batch's
array insert; a later event of the same case in the batch reads it after the flush.
"""

from __future__ import annotations

from services.notifier.unit_of_work import NotifierUnit
from shared.contracts.events import CaseReceived


async def on_case_received(uow: NotifierUnit, event: CaseReceived) -> None:
    uow.facts.add(
        {
            "case_id": event.case_id,
            "channel": event.channel,
            "category": event.category,
            "location": event.location.model_dump(),
            "urgency": event.urgency,
            "petitioner_ref": event.petitioner_ref,
            "received_by": event.received_by,
            "received_at": uow.cause.occurred_at,
            "case_number": event.case_number,
            "external_id": event.external_id,
            "title": event.title,
            "description": event.description,
            "address": event.address,
            "attachments": [a.model_dump(mode="json") for a in event.attachments] or None,
        }
    )
