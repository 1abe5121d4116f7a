"""Consumes ``dispatch.extension_decided``: the owner that asked is told the decision either
way (issue 22); when an extension is approved the petitioner is also told the new date
(held in quiet hours), since the office now promises a later answer. Keys on
``(event_id, recipient)``; a refused extension changes no promise to the petitioner."""

from __future__ import annotations

from datetime import timedelta, timezone

from services.notifier.handlers.common import to_owners
from services.notifier.petitioner import PETITIONER_ENDPOINT, quiet_hours
from services.notifier.unit_of_work import NotifierUnit
from shared.contracts.events import ExtensionDecided
from shared.domain.display import case_label

SHANGHAI = timezone(timedelta(hours=8))


async def on_extension_decided(uow: NotifierUnit, event: ExtensionDecided) -> None:
    await _tell_owner(uow, event)
    if not event.approved:
        return
    case = await uow.facts.get(event.case_id)
    if not case.petitioner_ref:
        return
    await uow.endpoints.ensure_petitioner()
    new_date = event.resolve_due_at.astimezone(SHANGHAI)
    body = {
        "event": "dispatch.extension_decided",
        "case_id": str(event.case_id),
        "petitioner_ref": case.petitioner_ref,
        "subject": "诉求办理时限延期告知 (new date for your case)",
        "message": (
            f"【哨报】您反映的诉求（编号 {case_label(case.case_number, event.case_id)}）经批准延期办理，"
            f"新的办结时限为 {new_date:%Y年%m月%d日 %H:%M}。"
        ),
        "resolve_due_at": event.resolve_due_at.isoformat(),
    }
    when = quiet_hours(uow.deps.config).next_allowed(uow.now)
    await uow.deliveries.add(PETITIONER_ENDPOINT, body, case_id=event.case_id, not_before=when)


async def _tell_owner(uow: NotifierUnit, event: ExtensionDecided) -> None:
    body = {
        "event": "dispatch.extension_decided",
        "event_id": str(uow.cause.id),
        "message": f"【哨报延期审批结果】{event.reason}",
        "case_id": str(event.case_id),
        "dispatch_id": str(event.dispatch_id),
        "approved": event.approved,
        "resolve_due_at": event.resolve_due_at.isoformat(),
    }
    await to_owners(uow, [event.owner_id], body, case_id=event.case_id)
