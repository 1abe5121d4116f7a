"""Consumes ``alert.raised`` (预警); pushes a notice to each office the alert names
(``notify``: the community's lead, the street office), through the endpoint each
registered (webhook, SMS or email by its settings). Keys on ``(event_id, owner_id)``.
"""

from __future__ import annotations

from services.notifier.handlers.common import to_owners
from services.notifier.unit_of_work import NotifierUnit
from shared.contracts.events import AlertRaised
from shared.domain.display import beijing

LEVEL_CN = {"compound": "小区", "grid": "网格", "community": "社区", "street": "街道"}
KIND_CN = {"cluster": "同类诉求集中", "collective": "集体访苗头"}


async def on_alert_raised(uow: NotifierUnit, event: AlertRaised) -> None:
    deps = uow.deps
    category = deps.category_names.get(event.category, event.category)
    convened = "、".join(o.name for o in event.convene)
    message = (
        f"【哨报预警】{KIND_CN.get(event.kind, event.kind)}：同一{LEVEL_CN.get(event.level, event.level)}"
        f"（{event.place}）自 {beijing(event.window_start)} 起已有 {event.case_count} 起"
        f"「{category}」诉求。"
        + (
            f"已启动联动处置，召集{convened}，请社区牵头协调。"
            if convened
            else "请关注并组织排查。"
        )
    )
    body = {
        "event": "alert.raised",
        "event_id": str(uow.cause.id),
        "alert_id": str(event.alert_id),
        "rule_id": event.rule_id,
        "kind": event.kind,
        "priority": event.priority,
        "category": event.category,
        "category_name": category,
        "level": event.level,
        "place": event.place,
        "case_count": event.case_count,
        "case_ids": [str(c) for c in event.case_ids],
        "convene": [o.model_dump(mode="json") for o in event.convene],
        "subject": "预警通知 (early warning)",
        "message": message,
    }
    await to_owners(uow, list(dict.fromkeys(event.notify)), body, case_id=None)
