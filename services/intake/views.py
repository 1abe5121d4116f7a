"""Read models of intake: a case as its channels see it, alerts (key persons' files:
``key_person_views``)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.schemas import AlertRead, CaseRef, CaseStatus
from services.intake.tables import (
    alert_marks,
    alerts,
    case_refs,
    cases,
    duplicate_links,
    duplicate_suggestions,
)
from shared.auth.scope import Area
from shared.domain.intake_submission import STATUS_LABELS
from shared.security.redact import mask_numbers, mask_optional


async def case_by_ref(conn: AsyncConnection, channel: str, ref: str) -> UUID | None:
    return await conn.scalar(
        select(case_refs.c.case_id).where(
            case_refs.c.channel == channel,
            case_refs.c.kind == "external_id",
            case_refs.c.ref == ref,
        )
    )


async def case_status(
    conn: AsyncConnection, case_id: UUID, *, named: bool = False
) -> CaseStatus | None:
    """The case as its readers see it. ``named``: also the suggestions from numbers the
    channel named that are another matter (for ops and supervisors, never channels)."""
    row = (await conn.execute(select(cases).where(cases.c.case_id == case_id))).first()
    if row is None:
        return None
    refs = (
        await conn.execute(
            select(case_refs.c.channel, case_refs.c.ref, case_refs.c.linked)
            .where(case_refs.c.case_id == case_id, case_refs.c.kind == "external_id")
            .order_by(case_refs.c.created_at)
        )
    ).all()
    linked = await conn.scalar(
        select(func.count())
        .select_from(duplicate_links)
        .where(duplicate_links.c.case_id == case_id)
    )
    suggested = (
        await conn.scalars(
            select(duplicate_suggestions.c.suggested_case_id)
            .where(
                duplicate_suggestions.c.case_id == case_id,
                duplicate_suggestions.c.reason.in_(
                    ["similar_text", "related_ref"] if named else ["similar_text"]
                ),
            )
            .order_by(duplicate_suggestions.c.score.desc())
        )
    ).all()
    return CaseStatus(
        case_id=row.case_id,
        case_number=row.case_number,
        address=mask_optional(row.address),
        channel=row.channel,
        external_id=row.external_id,
        category=row.category,
        title=mask_numbers(row.title),
        status=row.status,
        status_label=STATUS_LABELS.get(row.status, row.status),
        status_at=row.status_at,
        status_detail=masked_detail(row.status_detail),
        received_at=row.received_at,
        received_by=row.received_by,
        key_person=row.key_person,
        refs=[CaseRef(channel=r.channel, ref=r.ref, linked=r.linked) for r in refs],
        duplicates_linked=int(linked or 0),
        suggested_duplicates=list(suggested),
    )


def masked_detail(detail: dict[str, Any] | None) -> dict[str, Any] | None:
    """``status_detail`` with its free text (a mediation's outcome, a rating's comment)
    masked like titles: phone and ID numbers typed there stay in intake."""
    if not detail:
        return detail
    out = dict(detail)
    if isinstance(out.get("outcome"), str):
        out["outcome"] = mask_numbers(out["outcome"])
    if isinstance(feedback := out.get("feedback"), dict):
        out["feedback"] = feedback | {"comment": mask_optional(feedback.get("comment"))}
    return out


async def location_of(conn: AsyncConnection, case_id: UUID) -> dict[str, Any] | None:
    return await conn.scalar(select(cases.c.location).where(cases.c.case_id == case_id))


async def channels_of(conn: AsyncConnection, case_id: UUID) -> set[str]:
    """Every channel that may see the case: the first one and those whose number is linked."""
    first = await conn.scalar(select(cases.c.channel).where(cases.c.case_id == case_id))
    others = await conn.scalars(select(case_refs.c.channel).where(case_refs.c.case_id == case_id))
    return {c for c in [first, *others] if c}


async def list_alerts(conn: AsyncConnection, *, limit: int, area: Area = Area()) -> list[AlertRead]:
    """Newest first; with a limited ``area`` only alerts whose place lies inside it."""
    stmt = select(alerts).order_by(alerts.c.raised_at.desc()).limit(limit)
    if not area.unlimited:
        if not area.known or area.path is None:
            return []
        stmt = stmt.where(
            (alerts.c.place == area.path)
            | alerts.c.place.startswith(area.path + ".", autoescape=True)
        )
    rows = (await conn.execute(stmt)).all()
    marks: dict[object, list[dict[str, object]]] = {}
    ids = [r.alert_id for r in rows]
    if ids:
        found = await conn.execute(select(alert_marks).where(alert_marks.c.alert_id.in_(ids)))
        for m in found:
            marks.setdefault(m.alert_id, []).append(dict(m._mapping))
    return [
        AlertRead.model_validate(dict(r._mapping) | {"marks": marks.get(r.alert_id, [])})
        for r in rows
    ]
