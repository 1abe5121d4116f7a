"""Open311 ``GET requests``: a channel's cases as GeoReport v2 service requests.

A channel sees the cases it has a number on (the first channel, or a linked one), as on
``GET /v1/cases/{id}``; another channel's case is simply not there (404 for one, absent
from a list). Texts are masked like intake's other answers (phone and ID numbers).

``agency_responsible`` is the lead's Chinese name: the lead named when the case was
resolved, else the lead of its latest dispatching (``status_detail.lead``), else the one
owner holding a live dispatch. ``lat``/``long`` are empty: intake decides the place from a
point but does not keep the point.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.open311_form import DESCRIPTION_MAX, split_media
from services.intake.tables import case_refs, cases
from shared.domain.calendar import SHANGHAI
from shared.domain.intake_submission import STATUS_LABELS
from shared.security.redact import mask_numbers, mask_optional

CLOSED = frozenset({"resolved", "rated", "closed"})
LIST_MAX = 1000  # GeoReport v2: "may not return more than 1000 requests"
_LABELS = STATUS_LABELS | {"rated": "已评价"}


@dataclass(frozen=True)
class Filters:
    """What ``GET requests`` asks for; ``numbers`` overrides the rest (as the spec says)."""

    numbers: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    statuses: frozenset[str] = frozenset()


def _visible(channel: str) -> Any:
    linked = select(case_refs.c.case_id).where(case_refs.c.channel == channel)
    return (cases.c.channel == channel) | cases.c.case_id.in_(linked)


async def find(conn: AsyncConnection, channel: str, filters: Filters) -> list[Any]:
    """The channel's cases that match, newest first, at most :data:`LIST_MAX` (a case
    without a number, from before numbers existed, has no ``service_request_id``)."""
    query: Select[Any] = select(cases).where(_visible(channel), cases.c.case_number.is_not(None))
    if filters.numbers:
        query = query.where(cases.c.case_number.in_(filters.numbers))
    else:
        if filters.codes:
            query = query.where(cases.c.category.in_(filters.codes))
        if filters.start is not None:
            query = query.where(cases.c.received_at >= filters.start)
        if filters.end is not None:
            query = query.where(cases.c.received_at <= filters.end)
        if filters.statuses == {"open"}:
            query = query.where(cases.c.status.not_in(CLOSED))
        elif filters.statuses == {"closed"}:
            query = query.where(cases.c.status.in_(CLOSED))
    query = query.order_by(cases.c.received_at.desc()).limit(LIST_MAX)
    return list((await conn.execute(query)).all())


def as_request(row: Any, names: Mapping[str, str], owners: Any) -> dict[str, Any]:
    """One case as a GeoReport v2 service request (the spec's field names and order)."""
    description, media = split_media(row.description)
    description = mask_numbers(description)
    if len(description) > DESCRIPTION_MAX:
        description = description[: DESCRIPTION_MAX - 1] + "…"
    return {
        "service_request_id": row.case_number,
        "status": "closed" if row.status in CLOSED else "open",
        "status_notes": _LABELS.get(row.status, row.status),
        "service_name": names.get(row.category, row.category),
        "service_code": row.category,
        "description": description,
        "agency_responsible": _agency(row.status_detail, owners),
        "service_notice": None,
        "requested_datetime": _w3(row.received_at),
        "updated_datetime": _w3(row.status_at),
        "expected_datetime": None,
        "address": mask_optional(row.address),
        "address_id": None,
        "zipcode": None,
        "lat": None,
        "long": None,
        "media_url": media,
    }


def _agency(detail: Mapping[str, Any] | None, owners: Any) -> str:
    detail = detail or {}
    result = detail.get("result")
    lead = result.get("lead_owner_id") if isinstance(result, Mapping) else None
    if lead is None and isinstance(detail.get("lead"), str):
        lead = detail["lead"]  # the lead of the latest dispatching (handlers/status.py)
    holding = detail.get("owners")
    if lead is None and isinstance(holding, list) and len(holding) == 1:
        lead = holding[0]
    owner = owners.get(lead) if owners is not None and isinstance(lead, str) else None
    return owner.name if owner is not None else ""


def _w3(at: datetime) -> str:
    return at.astimezone(SHANGHAI).isoformat(timespec="seconds")
