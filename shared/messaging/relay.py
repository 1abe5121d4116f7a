"""Outbox relay: publishes staged events with publisher confirms, a window at a time.

Rows are claimed with ``FOR UPDATE SKIP LOCKED`` so any number of replicas share the
outbox; a window's events are packed per routing key, up to ``pack`` events per AMQP
message (:mod:`shared.messaging.wire`), published concurrently (confirms awaited
together) and marked sent in the same transaction. A crash between publish and commit republishes the window:
delivery is at least once and consumers are idempotent (inbox).

Every confirm is awaited at most ``confirm_timeout`` seconds
(:func:`shared.messaging.confirm.publish_confirmed`): a window whose confirms do not all
come (the connection lost, a node silent) is rolled back and sent again after a
back-off, on whichever node the connection has moved to. The loop ends only when its
task is cancelled: an error of any kind, even a ``CancelledError`` handed over by a
closed connection, is a failed window and the next try.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import aio_pika
import structlog
from aio_pika.abc import AbstractExchange
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db.outbox import mark_sent_statement
from shared.messaging import wire
from shared.messaging.confirm import cancelled_from_outside, publish_confirmed
from shared.metrics import EVENTS_PUBLISHED, OUTBOX_LAG, OUTBOX_PENDING
from shared.polling import IdlePoll

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
        idle_poll_seconds: float | None = None,
        pack: int = 1,
        confirm_timeout: float = 10.0,
    ) -> None:
        self._engine = engine
        self._outbox = outbox
        self._exchange = exchange_getter
        self._batch = batch
        self._pack = pack
        self._confirm_timeout = confirm_timeout
        # Every commit that stages events wakes the relay (ServiceRuntime.poke_relay); the
        # poll is for rows nobody woke it for (another process's, a crash's leftovers).
        self.poll = IdlePoll(poll_seconds, idle_poll_seconds)

    def wake(self) -> None:
        self.poll.wake()

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
            await asyncio.gather(*(self._publish(exchange, m) for m in self._messages(rows)))
            await conn.execute(
                mark_sent_statement(o), {"seqs": [r.seq for r in rows], "at": datetime.now(UTC)}
            )
        for r in rows:
            EVENTS_PUBLISHED.labels(r.routing_key).inc()
        return len(rows)

    def _messages(self, rows: Sequence[Any]) -> list[tuple[str, aio_pika.Message]]:
        """The window as messages, in outbox order: each run of consecutive events with one
        routing key, ``pack`` a message. Never regrouped across the window: a case's
        ``dispatch.acknowledged`` must not leave before its ``case.dispatched``."""
        runs: list[tuple[str, list[Any]]] = []
        for r in rows:
            if runs and runs[-1][0] == r.routing_key and len(runs[-1][1]) < self._pack:
                runs[-1][1].append(r)
            else:
                runs.append((r.routing_key, [r]))
        out: list[tuple[str, aio_pika.Message]] = []
        for key, chunk in runs:
            first = str(chunk[0].event_id)
            headers: dict[str, Any]
            if len(chunk) == 1:
                body, ctype, mid, headers = chunk[0].body, wire.SINGLE_CONTENT_TYPE, first, {}
            else:
                body = wire.pack([r.body for r in chunk])
                ctype, mid = wire.BATCH_CONTENT_TYPE, f"{first}+{len(chunk) - 1}"
                headers = {wire.COUNT_HEADER: len(chunk)}
            message = wire.message(
                body, message_id=mid, content_type=ctype, headers=headers, type=key
            )
            out.append((key, message))
        return out

    async def _publish(
        self, exchange: AbstractExchange, keyed: tuple[str, aio_pika.Message]
    ) -> None:
        await publish_confirmed(
            exchange, keyed[1], routing_key=keyed[0], timeout=self._confirm_timeout
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
            self.poll.begin()
            try:
                sent = await self.publish_once()
                failures = 0
            except (Exception, asyncio.CancelledError) as exc:
                if isinstance(exc, asyncio.CancelledError) and cancelled_from_outside():
                    raise
                failures += 1
                log.warning("outbox_publish_failed", error=repr(exc), failures=failures)
                await asyncio.sleep(min(0.2 * 2**failures, 5.0))
                continue
            if sent == self._batch:
                continue
            await self.poll.wait(found=sent > 0)
