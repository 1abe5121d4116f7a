"""The linked handling (联动处置) of an early warning: a cluster alert that names owners to
convene opens one case of its own, on the ``early_warning`` channel, in the alert's place
and category, so the router dispatches those owners together (e.g. the property firm
leads and the elevator maintenance unit co-handles) with their own deadlines. The case
counts toward no alert (see ``signals._evaluate``) and carries no petitioner."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.tables import cases
from shared.contracts.envelope import Envelope, make_envelope
from shared.contracts.events import AlertRaised, CaseReceived, LocationData
from shared.domain.intake_alerts import opens_linked_handling
from shared.domain.taxonomy import Location
from shared.ids import new_id

CHANNEL = "early_warning"
LEVEL_CN = {"compound": "小区", "grid": "网格", "community": "社区"}


async def open_linked_handling(
    conn: AsyncConnection,
    alert: AlertRaised,
    now: datetime,
    number: Callable[[datetime], Awaitable[str]],
) -> Envelope | None:
    """``number`` draws the new case's number (the unit's ``case_number``)."""
    if not opens_linked_handling(alert):
        return None
    where = Location(**{alert.level: alert.place}).by_level()
    case_id, case_number = new_id(), await number(now)
    names = "、".join(o.name for o in alert.convene)
    title = (
        f"预警联动处置：同一{LEVEL_CN.get(alert.level, alert.level)}{alert.case_count} 起同类诉求"
    )
    description = f"预警 {alert.rule_id}（{alert.place}）触发，联动 {names} 共同处置。"
    await conn.execute(
        insert(cases).values(
            case_id=case_id, channel=CHANNEL, category=alert.category, title=title,
            description=description, location={k: v for k, v in where.items() if v},
            urgency="urgent", status="received", status_detail={"alert_id": str(alert.alert_id)},
            status_at=now, received_at=now, community=where["community"], grid=where["grid"],
            compound=where["compound"], case_number=case_number,
        )
    )  # fmt: skip
    event = CaseReceived(
        case_id=case_id,
        channel=CHANNEL,
        category=alert.category,
        title=title,
        description=description,
        location=LocationData(**where),
        urgency="urgent",
        case_number=case_number,
    )
    return make_envelope(event, producer="intake", occurred_at=now, case_id=case_id)
