"""What the notifier's handlers share: who hears a case's news, and how to link its files.

The reads and writes (case facts, endpoints, deliveries) are the unit's repositories
(:mod:`services.notifier.unit_of_work`).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from services.notifier.unit_of_work import NotifierUnit


def channel_owner(channel: str) -> str:
    """A channel's callback is stored as an endpoint named ``channel:<channel>``."""
    return f"channel:{channel}"


async def to_owners(
    uow: NotifierUnit, owners: list[str], body: dict[str, Any], *, case_id: UUID | None
) -> None:
    """A delivery per owner; an owner with no endpoint gets ``no_endpoint`` for ops to see."""
    found = await uow.endpoints.registered(owners)
    for owner in dict.fromkeys(owners):
        status = "pending" if owner in found else "no_endpoint"
        await uow.deliveries.add(owner, body | {"owner_id": owner}, case_id=case_id, status=status)


async def to_channel(
    uow: NotifierUnit,
    case_id: UUID,
    body: dict[str, Any],
    *,
    known: tuple[Any, set[str] | None] | None = None,
) -> None:
    """The channel the case came from hears its status change, if it registered a callback,
    with its own work-order number (``external_id``) and the case number on every body.

    A walk-in case names its first receiver (首问负责人) as ``tracker``: the window's system
    routes every change to the staff member who took it.

    ``known``: the case's facts and the registered owners (None: not read yet), when the
    caller already read them.
    """
    row, found = known if known is not None else (await uow.facts.get(case_id), None)
    owner = channel_owner(row.channel)
    if owner in (found if found is not None else await uow.endpoints.registered([owner])):
        extra = {
            "channel": row.channel,
            "tracker": row.received_by,
            "external_id": row.external_id,  # the channel's own work-order number
            "case_number": row.case_number,
        }
        await uow.deliveries.add(owner, body | extra, case_id=case_id)


def attachment_links(
    uow: NotifierUnit, case_id: UUID, stored: list[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    """The case's attachments as links to the router (the holder fetches them with its
    key), never the bytes."""
    base = uow.deps.config.router_url.rstrip("/")
    return [
        {**a, "url": f"{base}/v1/cases/{case_id}/attachments/{a['attachment_id']}"}
        for a in stored or []
    ]
