"""Outbox relay: publishes staged events with publisher confirms, a window at a time.

Rows are claimed with ``FOR UPDATE SKIP LOCKED`` so any number of replicas share the
outbox; a window is published concurrently (confirms awaited together) and marked sent
in the same transaction. A crash between publish and commit republishes the window:
delivery is at least once and consumers are idempotent (inbox).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import aio_pika
import structlog
from aio_pika.abc import AbstractExchange
from sqlalchemy import Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.metrics import EVENTS_PUBLISHED, OUTBOX_LAG, OUTBOX_PENDING

log = structlog.get_logger(__name__)

ExchangeGetter = Callable[[], Awaitable[AbstractExchange]]


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        outbox: Table,
        exchange_getter: ExchangeGetter,
        *,
        batch: int,
        poll_seconds: float,
    ) -> None:
        self._engine = engine
        self._outbox = outbox
        self._exchange = exchange_getter
        self._batch = batch
        self._poll = poll_seconds
        self.wakeup = asyncio.Event()

    async def publish_once(self) -> int:
        """Publish one window of unsent events; returns how many were sent."""
        o = self._outbox
        exchange = await self._exchange()
        async with self._engine.begin() as conn:
            rows = (
                await conn.execute(
                    select(o.c.seq, o.c.event_id, o.c.routing_key, o.c.body)
                    .where(o.c.published_at.is_(None))
                    .order_by(o.c.seq)
                    .limit(self._batch)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            await asyncio.gather(*(self._publish(exchange, r) for r in rows))
            await conn.execute(
                update(o)
                .where(o.c.seq.in_([r.seq for r in rows]))
                .values(published_at=datetime.now(UTC))
            )
        for r in rows:
            EVENTS_PUBLISHED.labels(r.routing_key).inc()
        return len(rows)

    @staticmethod
    async def _publish(exchange: AbstractExchange, row: object) -> None:
        await exchange.publish(
            aio_pika.Message(
                body=row.body,  # type: ignore[attr-defined]
                message_id=str(row.event_id),  # type: ignore[attr-defined]
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                type=row.routing_key,  # type: ignore[attr-defined]
            ),
            routing_key=row.routing_key,  # type: ignore[attr-defined]
        )

    async def measure_lag(self) -> None:
        o = self._outbox
        async with self._engine.connect() as conn:
            oldest, pending = (
                await conn.execute(
                    select(func.min(o.c.created_at), func.count()).where(o.c.published_at.is_(None))
                )
            ).one()
        OUTBOX_PENDING.set(pending)
        OUTBOX_LAG.set(0 if oldest is None else (datetime.now(UTC) - oldest).total_seconds())

    async def run(self) -> None:
        """Publish until cancelled; back off while the broker or database is away."""
        failures = 0
        while True:
            try:
                sent = await self.publish_once()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                log.warning("outbox_publish_failed", error=repr(exc), failures=failures)
                await asyncio.sleep(min(0.2 * 2**failures, 5.0))
                continue
            if sent == self._batch:
                continue
            self.wakeup.clear()
            try:
                await asyncio.wait_for(self.wakeup.wait(), timeout=self._poll)
            except TimeoutError:
                pass
