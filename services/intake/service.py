"""Intake's use cases: accept a submission once, whatever the retries; one case per matter.

A submission is, in order: a replay of a number already known (answered as before); another
number for an open case (linked: ``case.duplicate_linked``, no second dispatch); or a new
case (``case.received``, alerts, key-person flag; a patrol finding mediated on the spot is
stored closed and never dispatched).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import insert, select

from services.intake import linked, matching, signals
from services.intake.records import Submitted
from services.intake.schemas import CaseCreate
from services.intake.tables import cases, duplicate_links, duplicate_suggestions
from services.intake.triage import TriageDesk
from services.intake.unit import Planned, Unit
from shared.contracts.envelope import Envelope, make_envelope
from shared.contracts.events import CaseDuplicateLinked, CaseReceived, LocationData
from shared.domain.intake_rules import IntakePolicy, places
from shared.ids import new_id
from shared.security.pii import PiiVault, identity_refs
from shared.security.redact import mask_numbers

STATUS_LABELS = {
    "received": "已受理",
    "dispatched": "已派单",
    "acknowledged": "已签收",
    "in_progress": "办理中",
    "resolved": "已办结",
    "closed": "已结案",
    "disputed": "协调中（吹哨）",
}
STATUS_RANK = {s: i for i, s in enumerate(STATUS_LABELS)}


@dataclass(frozen=True)
class IntakeDeps:
    vault: PiiVault
    pseudonym_key: str
    policy: IntakePolicy = field(default_factory=IntakePolicy)
    owners: Any = None  # OwnerDirectory: who an alert notifies and convenes
    # Category code → Chinese name (rules.yaml, read at start) for what people read.
    category_names: dict[str, str] = field(default_factory=dict)
    triage: TriageDesk | None = None  # free-text submissions (services.intake.triage)


def lock_keys(
    deps: IntakeDeps, planned: Planned, standing: dict[tuple[str, str], datetime]
) -> list[str]:
    """The advisory locks a submission's decisions need, held to the commit: the
    petitioner's (linking, key person) and each alert rule's place (counts), except a
    place whose window's alert already stands (``standing``, see
    :func:`services.intake.signals.standing_alerts`).

    A transaction holding several submissions takes the union of theirs first, in one
    sorted statement, so two such transactions never wait on each other in a cycle.
    """
    keys = signals.lock_keys(planned.alerts, planned.now, standing)
    return keys + [f"petitioner:{ref}" for ref in planned.identity_refs]


async def submit_case(
    unit: Unit,
    *,
    deps: IntakeDeps,
    planned: Planned,
    stage: list[Envelope],
) -> tuple[Submitted, bool]:
    """Returns the answer and whether an event was staged (a replay stages none).

    Runs in the caller's transaction, which already holds this submission's
    :func:`lock_keys` and has had the unit prefetch it. Its events go onto ``stage``, its
    rows into the unit, for the caller to write with those of the other submissions
    sharing the transaction.
    """
    existing = await unit.existing(planned.channel, planned.refs)
    if existing is not None:
        return existing, False
    body, staged, where = planned.body, len(stage), planned.where
    ref, contact = unit.store_petitioner(deps, body)
    person = await unit.person(planned)
    target, named = await unit.target(body, ref, where["compound"], planned.now)
    if target is not None:
        answer = await _link(unit, deps, planned, target, (ref, contact, person), stage)
    else:
        answer = await _create(unit, deps, planned, (ref, contact, person), where, stage)
        await _suggest_named(unit, answer, named)
    unit.seen(planned, person)
    return answer, len(stage) > staged


def plan(
    deps: IntakeDeps, channel: str, body: CaseCreate, idempotency_key: str | None, now: datetime
) -> Planned:
    """What intake knows of a submission before it runs (its numbers, place, petitioner)."""
    given = [("external_id", body.external_id), ("idempotency_key", idempotency_key)]
    p = body.petitioner
    where = places(body.place.model_dump())
    identities = (
        identity_refs(
            deps.pseudonym_key,
            phone=p.phone,
            id_number=p.id_number,
            name=p.name,
            address=body.address,
        )
        if p
        else []
    )
    return Planned(
        channel,
        body,
        [(kind, ref) for kind, ref in given if ref],
        now,
        where,
        identities[0][1] if identities else None,
        signals.alert_places(deps.policy, body.code, where),
        identities,
    )


async def _link(
    unit: Unit,
    deps: IntakeDeps,
    planned: Planned,
    target: matching.Target,
    who: tuple[str | None, dict[str, Any], str | None],
    events: list[Envelope],
) -> Submitted:
    conn, channel, body, now = unit.conn, planned.channel, planned.body, planned.now
    ref, contact, person = who
    unit.claim(channel, planned.refs, target.case_id, linked=True)
    known = await unit.history(planned)
    flagged = await signals.key_person(
        conn, deps.policy.key_persons, person, known, now,
        over_the_head=channel == "superior_transfer",
    )  # fmt: skip
    await conn.execute(
        insert(duplicate_links).values(
            case_id=target.case_id,
            channel=channel,
            ref=body.external_id,
            petitioner_ref=ref,
            reason=target.reason,
            linked_at=now,
            **contact,
        )
    )
    event = CaseDuplicateLinked(
        case_id=target.case_id,
        channel=channel,
        ref=body.external_id,
        petitioner_ref=ref,
        reason=target.reason,
        attachments=body._attachment_infos,  # the repeat's photos join the case
    )
    events.append(make_envelope(event, producer="intake", occurred_at=now, case_id=target.case_id))
    return Submitted(
        target.case_id,
        target.status,
        False,
        target.received_at,
        duplicate_of=target.case_id,
        key_person=flagged,
        case_number=await conn.scalar(
            select(cases.c.case_number).where(cases.c.case_id == target.case_id)
        ),
    )


async def _create(
    unit: Unit,
    deps: IntakeDeps,
    planned: Planned,
    who: tuple[str | None, dict[str, Any], str | None],
    where: dict[str, str | None],
    events: list[Envelope],
) -> Submitted:
    """A new case; the contact given with it is the case's own (a reveal shows it)."""
    conn, channel, body, now = unit.conn, planned.channel, planned.body, planned.now
    ref, contact, person = who
    case_id, number = new_id(), await unit.case_number(now)
    unit.claim(channel, planned.refs, case_id, linked=False)
    known = await unit.history(planned)
    flagged = await signals.key_person(
        conn, deps.policy.key_persons, person, known, now,
        over_the_head=channel == "superior_transfer",
    )  # fmt: skip
    rebound = body._rebound_of or known.rebound_of
    mediated = body.mediated_on_site
    status = "closed" if mediated else "received"
    detail: dict[str, Any] | None = (
        {"close_kind": "mediated_on_site", "outcome": body.mediation_outcome} if mediated else None
    )
    if rebound is not None:
        detail = (detail or {}) | {"rebound_of": str(rebound)}
    location = body.place.model_dump()
    unit.add_case(
        {
            "case_id": case_id,
            "channel": channel,
            "external_id": body.external_id,
            "petitioner_ref": ref,
            "category": body.code,
            "title": body.title,
            "description": body.description,
            "location": location,
            "urgency": body.urgency,
            "received_by": body.received_by,
            "status": status,
            "status_detail": detail,
            "status_at": now,
            "received_at": now,
            "community": where["community"],
            "grid": where["grid"],
            "compound": where["compound"],
            "key_person": flagged,
            "case_number": number,
            "address": body.address,
            "campaign_id": body.campaign_id,
        }
        | contact,
    )
    suggested = await _suggest(unit, deps, body, case_id, ref, where, now)
    alerts = await signals.raise_alerts(
        conn,
        unit=unit,
        policy=deps.policy,
        owners=deps.owners,
        category=body.code,
        location=location,
        places=where,
        now=now,
    )
    events.extend(
        make_envelope(a, producer="intake", occurred_at=now, case_id=None) for a in alerts
    )
    for alert in alerts:
        if (
            linked_case := await linked.open_linked_handling(conn, alert, now, unit.case_number)
        ) is not None:
            events.append(linked_case)
    if not mediated:
        event = CaseReceived(
            case_id=case_id,
            channel=channel,
            external_id=body.external_id,
            category=body.code,
            title=mask_numbers(body.title),  # the full text stays in intake (the reveal)
            description=mask_numbers(body.description),
            location=LocationData(**location),
            urgency=body.urgency,
            petitioner_ref=ref,
            received_by=body.received_by,
            key_person=flagged,
            rebound_of=rebound,
            case_number=number,
            address=mask_numbers(body.address) if body.address else None,
            attachments=body._attachment_infos,
            triage=body._triage,
        )
        events.append(make_envelope(event, producer="intake", occurred_at=now, case_id=case_id))
    return Submitted(
        case_id,
        status,
        True,
        now,
        suggested=suggested,
        key_person=flagged,
        rebound_of=rebound,
        case_number=number,
    )


async def _suggest_named(unit: Unit, answer: Submitted, named: list[UUID]) -> None:
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


async def _suggest(
    unit: Unit,
    deps: IntakeDeps,
    body: CaseCreate,
    case_id: UUID,
    ref: str | None,
    where: dict[str, str | None],
    now: datetime,
) -> list[UUID]:
    """Anonymous submissions are only suggested as duplicates, for a person to confirm."""
    if ref is not None or body.mediated_on_site:
        return []
    await unit.flush()  # the search reads stored cases, this transaction's earlier ones too
    conn = unit.conn
    hits = await matching.find_suggestions(
        conn, policy=deps.policy.duplicates, body=body, compound=where["compound"], now=now
    )
    hits = [(cid, score) for cid, score in hits if cid != case_id]
    if hits:
        await conn.execute(
            insert(duplicate_suggestions),
            [{"case_id": case_id, "suggested_case_id": c, "score": s} for c, s in hits],
        )
    return [c for c, _ in hits]
