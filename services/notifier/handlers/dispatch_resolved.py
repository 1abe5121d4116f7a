"""Consumes ``dispatch.resolved``; the case's channel hears each unit's result (lead and
co-handlers) with links to the evidence it attached (办结凭证, 书面承诺), so a 12345 agent
need not fetch it by hand. The case's own result follows as ``case.resolved``. Keys on
``(event_id, channel)``."""

from __future__ import annotations

from services.notifier.handlers.common import attachment_links, to_channel
from services.notifier.unit_of_work import NotifierUnit
from shared.contracts.events import DispatchResolved

OUTCOME_CN = {"resolved": "已解决", "explained": "已解释说明", "referred": "已转诉讼/仲裁/应急渠道"}
ROLE_CN = {"lead": "主办", "co_handler": "协办"}


async def on_dispatch_resolved(uow: NotifierUnit, event: DispatchResolved) -> None:
    name = uow.deps.owners.name_of(event.owner_id)
    evidence = attachment_links(
        uow, event.case_id, [a.model_dump(mode="json") for a in event.attachments]
    )
    await to_channel(
        uow,
        event.case_id,
        {
            "event": "dispatch.resolved",
            "event_id": str(uow.cause.id),
            "case_id": str(event.case_id),
            "owner_id": event.owner_id,
            "owner_name": name,
            "role": event.role,
            "outcome": event.outcome,
            "summary": event.summary,
            "attachments": evidence,
            "message": (
                f"【{ROLE_CN[event.role]}单位办结】{name}：{OUTCOME_CN[event.outcome]}，"
                f"{event.summary}" + (f"（凭证 {len(evidence)} 份）" if evidence else "")
            ),
        },
    )
