"""The per-endpoint circuit breaker, kept in ``notifier.endpoints`` so replicas share it.

Closed: ``open_until`` is null. After ``threshold`` consecutive retryable failures
(5xx, 429, network) the endpoint opens for ``cooldown``: the worker skips its deliveries,
which wait as ``pending`` without spending attempts. When ``open_until`` passes the
endpoint is half-open: one delivery (the oldest) is let through as a probe. A probe that
succeeds closes the breaker and makes everything that waited due at once, to go out in
``created_at`` order; a probe that fails opens it again. Opening from closed emits
``endpoint.circuit_opened`` (the ops alert) once; the gauge
``shaobao_circuit_breakers_open`` counts endpoints not closed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from prometheus_client import Gauge
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.notifier.tables import deliveries, endpoints, outbox
from shared.contracts.envelope import make_envelope
from shared.contracts.events import EndpointCircuitOpened
from shared.db.outbox import write_events
from shared.db.types import inline

log = structlog.get_logger(__name__)
BREAKERS_OPEN = Gauge(
    "shaobao_circuit_breakers_open", "Delivery endpoints whose circuit breaker is open"
)


async def record_success(conn: AsyncConnection, owner_id: str, now: datetime) -> None:
    was_open = await conn.scalar(
        select(endpoints.c.open_until).where(endpoints.c.owner_id == owner_id).with_for_update()
    )
    await conn.execute(
        update(endpoints)
        .where(endpoints.c.owner_id == owner_id)
        .values(consecutive_failures=0, open_until=None)
    )
    if was_open is not None:
        log.info("circuit_closed", owner_id=owner_id)
        await conn.execute(
            update(deliveries)
            .where(deliveries.c.owner_id == owner_id, deliveries.c.status == inline("pending"))
            .values(next_attempt_at=now)
        )


async def record_failure(
    conn: AsyncConnection,
    owner_id: str,
    now: datetime,
    *,
    threshold: int,
    cooldown: timedelta,
    error: str,
) -> None:
    row = (
        await conn.execute(
            update(endpoints)
            .where(endpoints.c.owner_id == owner_id)
            .values(consecutive_failures=endpoints.c.consecutive_failures + 1)
            .returning(endpoints.c.consecutive_failures, endpoints.c.open_until)
        )
    ).first()
    if row is None or row.consecutive_failures < threshold:
        return
    open_until = now + cooldown
    await conn.execute(
        update(endpoints).where(endpoints.c.owner_id == owner_id).values(open_until=open_until)
    )
    if row.open_until is not None:
        return  # a failed half-open probe: open again, alert already raised
    log.error("circuit_opened", owner_id=owner_id, failures=row.consecutive_failures)
    event = EndpointCircuitOpened(
        owner_id=owner_id,
        consecutive_failures=row.consecutive_failures,
        open_until=open_until,
        last_error=error[:300],
    )
    await write_events(
        conn, outbox, [make_envelope(event, producer="notifier", occurred_at=now, case_id=None)]
    )


async def refresh_gauge(conn: AsyncConnection) -> None:
    count = await conn.scalar(
        select(func.count()).select_from(endpoints).where(endpoints.c.open_until.is_not(None))
    )
    BREAKERS_OPEN.set(count or 0)
