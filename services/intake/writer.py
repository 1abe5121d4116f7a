"""Writing a submission's decision (:mod:`shared.domain.intake_submission`) into the
transaction: its rows wait in the unit of work (one array statement per table at the
flush, see :mod:`services.intake.unit`), its events go onto the caller's stage.

A new case may also raise alerts (counted once its row is stored, so they are decided
here, after the case: :func:`services.intake.signals.raise_alerts`), open a linked handling
for one (:mod:`services.intake.linked`) and, when anonymous, keep the open cases it
resembles as suggestions for a person to confirm.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import insert

from services.intake import linked, matching, registry, signals
from services.intake.deps import IntakeDeps
from services.intake.records import Submitted
from services.intake.tables import duplicate_suggestions
from services.intake.unit import Planned, Unit
from shared.contracts.envelope import Envelope, make_envelope
from shared.contracts.events import CaseDuplicateLinked, CaseReceived, LocationData
from shared.domain.intake_submission import Entry, Link, NewCase
from shared.ids import new_id
from shared.security.redact import mask_numbers

Contact = dict[str, Any]  # the contact the submission gave, sealed, by column


async def enter_key_person(
    unit: Unit, deps: IntakeDeps, entry: Entry | None, planned: Planned
) -> None:
    """The registry entry (and its history row) a decision makes, if any."""
    if entry is not None:
        await registry.enter(
            unit.conn, entry.person, reason=entry.reason, actor="rule",
            petitions=entry.petitions, now=planned.now,
            review_every_days=deps.policy.key_persons.review_every_days,
        )  # fmt: skip


def write_link(
    unit: Unit, planned: Planned, link: Link, who: tuple[str | None, Contact], stage: list[Envelope]
) -> Submitted:
    """Another number for an open case: its numbers point there, the submission is kept
    as a linked one (with its contact), ``case.duplicate_linked`` carries its photos."""
    channel, body, now, target = planned.channel, planned.body, planned.now, link.target
    ref, contact = who
    unit.claim(channel, planned.refs, target.case_id, linked=True)
    unit.add_duplicate(
        {"case_id": target.case_id, "channel": channel, "ref": body.external_id,
         "petitioner_ref": ref, "reason": target.reason, "linked_at": now} | contact
    )  # fmt: skip
    event = CaseDuplicateLinked(
        case_id=target.case_id,
        channel=channel,
        ref=body.external_id,
        petitioner_ref=ref,
        reason=target.reason,
        attachments=body._attachment_infos,  # the repeat's photos join the case
    )
    stage.append(make_envelope(event, producer="intake", occurred_at=now, case_id=target.case_id))
    return Submitted(
        target.case_id, target.status, False, target.received_at, duplicate_of=target.case_id,
        key_person=link.key_person, case_number=target.case_number,
    )  # fmt: skip


async def write_case(
    unit: Unit,
    deps: IntakeDeps,
    planned: Planned,
    new: NewCase,
    who: tuple[str | None, Contact],
    stage: list[Envelope],
) -> Submitted:
    """A new case; the contact given with it is the case's own (a reveal shows it)."""
    case_id, number = new_id(), await unit.case_number(planned.now)
    unit.claim(planned.channel, planned.refs, case_id, linked=False)
    unit.add_case(case_row(planned, new, case_id, number, who))
    suggested = await _suggest(unit, deps, planned, case_id, who[0])
    await _alerts(unit, deps, planned, stage)
    if new.dispatched:
        stage.append(_received(planned, new, case_id, number, who[0]))
    return Submitted(
        case_id, new.status, True, planned.now, suggested=suggested, key_person=new.key_person,
        rebound_of=new.rebound_of, case_number=number,
    )  # fmt: skip


def case_row(
    planned: Planned, new: NewCase, case_id: UUID, number: str, who: tuple[str | None, Contact]
) -> dict[str, Any]:
    body, where, now = planned.body, planned.where, planned.now
    ref, contact = who
    return {
        "case_id": case_id, "channel": planned.channel, "external_id": body.external_id,
        "petitioner_ref": ref, "category": body.code, "title": body.title,
        "description": body.description, "location": body.place.model_dump(),
        "urgency": body.urgency, "received_by": body.received_by, "status": new.status,
        "status_detail": new.status_detail, "status_at": now, "received_at": now,
        "community": where["community"], "grid": where["grid"], "compound": where["compound"],
        "key_person": new.key_person, "case_number": number, "address": body.address,
        "campaign_id": body.campaign_id,
    } | contact  # fmt: skip


def _received(
    planned: Planned, new: NewCase, case_id: UUID, number: str, ref: str | None
) -> Envelope:
    body = planned.body
    event = CaseReceived(
        case_id=case_id,
        channel=planned.channel,
        external_id=body.external_id,
        category=body.code,
        title=mask_numbers(body.title),  # the full text stays in intake (the reveal)
        description=mask_numbers(body.description),
        location=LocationData(**body.place.model_dump()),
        urgency=body.urgency,
        petitioner_ref=ref,
        received_by=body.received_by,
        key_person=new.key_person,
        rebound_of=new.rebound_of,
        case_number=number,
        address=mask_numbers(body.address) if body.address else None,
        attachments=body._attachment_infos,
        triage=body._triage,
    )
    return make_envelope(event, producer="intake", occurred_at=planned.now, case_id=case_id)


async def _alerts(unit: Unit, deps: IntakeDeps, planned: Planned, stage: list[Envelope]) -> None:
    """The alerts the new case tips over, and the linked handling each may open."""
    now = planned.now
    alerts = await signals.raise_alerts(
        unit.conn, unit=unit, policy=deps.policy, owners=deps.owners,
        category=planned.body.code, location=planned.body.place.model_dump(),
        places=planned.where, now=now,
    )  # fmt: skip
    stage.extend(make_envelope(a, producer="intake", occurred_at=now, case_id=None) for a in alerts)
    for alert in alerts:
        opened = await linked.open_linked_handling(unit.conn, alert, now, unit.case_number)
        if opened is not None:
            stage.append(opened)


async def _suggest(
    unit: Unit, deps: IntakeDeps, planned: Planned, case_id: UUID, ref: str | None
) -> list[UUID]:
    """Anonymous submissions are only suggested as duplicates, for a person to confirm."""
    body = planned.body
    if ref is not None or body.mediated_on_site:
        return []
    await unit.flush()  # the search reads stored cases, this transaction's earlier ones too
    hits = await matching.find_suggestions(
        unit.conn, policy=deps.policy.duplicates, body=body,
        compound=planned.where["compound"], now=planned.now,
    )  # fmt: skip
    hits = [(cid, score) for cid, score in hits if cid != case_id]
    if hits:
        await unit.conn.execute(
            insert(duplicate_suggestions),
            [{"case_id": case_id, "suggested_case_id": c, "score": s} for c, s in hits],
        )
    return [c for c, _ in hits]


async def suggest_named(unit: Unit, answer: Submitted, named: list[UUID]) -> None:
    """The open cases a submission named (``related_refs``) that are another matter: kept
    as suggestions for a person to confirm (``reason: related_ref``), never linked, and
    not shown to channels (they would tell a channel that another's number exists)."""
    rows = [
        {"case_id": answer.case_id, "suggested_case_id": c, "score": 0.0, "reason": "related_ref"}
        for c in named
        if c not in answer.suggested
    ]
    if rows:
        await unit.conn.execute(insert(duplicate_suggestions), rows)
