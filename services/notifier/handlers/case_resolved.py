"""Consumes ``case.resolved``: the channel hears it (callback), the petitioner is told
the result and asked to rate it (SMS/email, see :mod:`services.notifier.petitioner`),
and a key matter (重点事项) is published on the notice board (公示).

A key person's case (重点人员, ``key_person`` on the event) gets no rating link: its 回访 is
made by a person, so the community office serving the place is told one is due instead.

The notice keeps structured fields only (category, place down to community at most, tier,
urgency, outcome, time): free text can carry names, phone or ID numbers, so titles,
descriptions and summaries are never published, and a category the rules file marks
``never_publish`` (family matters) is not published at all
(:mod:`shared.domain.notices`). Keys on ``case_id`` (notice) and ``(event_id, recipient)``
(deliveries).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.notifier.handlers.common import to_channel, to_owners
from services.notifier.petitioner import PETITIONER_ENDPOINT, quiet_hours
from services.notifier.tables import notices
from services.notifier.unit_of_work import NotifierUnit
from shared.contracts.events import CaseResolved
from shared.domain.display import case_label
from shared.domain.owners import OwnerKind
from shared.domain.taxonomy import Location
from shared.security.links import feedback_token

OUTCOME_CN = {"resolved": "已解决", "explained": "已解释说明", "referred": "已转诉讼/仲裁/应急渠道"}


async def on_case_resolved(uow: NotifierUnit, event: CaseResolved) -> None:
    case = await uow.facts.get(event.case_id)
    await to_channel(
        uow,
        event.case_id,
        {
            "event": "case.resolved",
            "event_id": str(uow.cause.id),
            "case_id": str(event.case_id),
            "status": "resolved",
            "outcome": event.outcome,
            "summary": event.summary,
            "lead_owner_id": event.lead_owner_id,
            "message": f"【办结】{OUTCOME_CN[event.outcome]}：{event.summary}",
        },
        known=(case, None),
    )
    if event.key_person:
        await _return_visit_due(uow, case, event)
    elif case.petitioner_ref:
        await _tell_petitioner(uow, case, event)
    config = uow.deps.config
    if case.tier in config.key_tiers or case.urgency in config.key_urgencies:
        await _publish(uow, case, event)


async def _tell_petitioner(uow: NotifierUnit, case: Any, event: CaseResolved) -> None:
    await uow.endpoints.ensure_petitioner()
    settings = uow.deps.settings
    expires = int(uow.now.timestamp()) + settings.feedback_link_days * 86400
    token = feedback_token(settings.key_pepper.get_secret_value(), event.case_id, expires)
    text = (
        f"【哨报】您反映的诉求（编号 {case_label(case.case_number, event.case_id)}）"
        f"{OUTCOME_CN[event.outcome]}。"
        f"请对办理结果评价（满意 / 基本满意 / 不满意）：{settings.public_feedback_url}{token}"
    )
    body = {
        "event": "case.resolved",
        "case_id": str(event.case_id),
        "petitioner_ref": case.petitioner_ref,
        "subject": "诉求办理结果告知 (your case was resolved)",
        "message": text,
    }
    when = quiet_hours(uow.deps.config).next_allowed(uow.now)
    await uow.deliveries.add(PETITIONER_ENDPOINT, body, case_id=event.case_id, not_before=when)


async def _return_visit_due(uow: NotifierUnit, case: Any, event: CaseResolved) -> None:
    where = Location(**{k: v for k, v in case.location.items() if v})
    office = uow.deps.owners.serving(OwnerKind.COMMUNITY, where)
    if office is None:
        return
    label = case_label(case.case_number, event.case_id)
    body = {
        "event": "case.resolved",
        "event_id": str(uow.cause.id),
        "case_id": str(event.case_id),
        "key_person": True,
        "petitioner_ref": case.petitioner_ref,
        "outcome": event.outcome,
        "subject": "重点人员回访提醒 (return visit due)",
        "message": (
            f"【重点人员回访】诉求 {label} {OUTCOME_CN[event.outcome]}。"
            "请安排专人上门或电话回访，听取评价并记入走访记录（不发送评价短信）。"
        ),
    }
    await to_owners(uow, [office.id], body, case_id=event.case_id)


async def _publish(uow: NotifierUnit, case: Any, event: CaseResolved) -> None:
    policy = uow.deps.notices.policy
    if not policy.publishable(case.category):
        return
    place = policy.public_place(case.location)
    await uow.conn.execute(
        pg_insert(notices)
        .values(
            case_id=event.case_id,
            category=case.category,
            location=place,
            tier=case.tier,
            urgency=case.urgency,
            outcome=event.outcome,
            resolved_at=uow.cause.occurred_at,
        )
        .on_conflict_do_nothing()
    )
