"""Intake's use case: accept a submission once, whatever the retries; one case per matter.

A submission is, in order: a replay of a number already known (answered as before); another
number for an open case (linked: ``case.duplicate_linked``, no second dispatch); or a new
case (``case.received``, alerts, key-person flag; a patrol finding mediated on the spot is
stored closed and never dispatched).

One submission goes: :func:`plan` (what is known before its transaction) → the unit's facts
(:meth:`services.intake.unit.Unit.facts`) → the pure decision
(:func:`shared.domain.intake_submission.decide_submission`) → the writer
(:mod:`services.intake.writer`) → recorded in the transaction's batch for the submissions
after it.
"""

from __future__ import annotations

from datetime import datetime

from services.intake import writer
from services.intake.deps import IntakeDeps
from services.intake.records import Submitted
from services.intake.schemas import CaseCreate
from services.intake.unit import Planned, Unit
from shared.contracts.envelope import Envelope
from shared.domain.intake_alerts import alert_places
from shared.domain.intake_alerts import lock_keys as alert_lock_keys
from shared.domain.intake_rules import places
from shared.domain.intake_submission import Link, Replay, decide_submission
from shared.security.pii import identity_refs


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
    keys = alert_lock_keys(planned.alerts, planned.now, standing)
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
    facts, named = await unit.facts(planned)
    decision = decide_submission(facts, deps.policy)
    if isinstance(decision, Replay):
        return decision.answer, False
    staged = len(stage)
    who = unit.store_petitioner(deps, planned.body)
    await writer.enter_key_person(unit, deps, decision.entry, planned)
    if isinstance(decision, Link):
        answer = writer.write_link(unit, planned, decision, who, stage)
    else:
        answer = await writer.write_case(unit, deps, planned, decision, who, stage)
        await writer.suggest_named(unit, answer, named)
    unit.batch.record(facts, decision, answer)
    unit.seen(planned, facts.person)
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
        alert_places(deps.policy, body.code, where),
        identities,
    )
