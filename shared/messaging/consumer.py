"""The one shape of every consumer.

Ack policy, stated once: a message is acked only after the transaction holding its
effect and its inbox row has committed. A message whose envelope or payload does not
parse, or whose handler raises a domain error, is dead-lettered at once with the reason
in the ``x-shaobao-reason`` header. Anything else is transient: the message is
requeued after a back-off, and the quorum queue's delivery limit bounds the retries
(past it RabbitMQ dead-letters it).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import aio_pika
import structlog
from aio_pika.abc import AbstractExchange, AbstractIncomingMessage
from pydantic import BaseModel, ValidationError
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.clock import Clock
from shared.contracts.envelope import Envelope, make_envelope
from shared.contracts.events import payload_model
from shared.db.outbox import claim_inbox, write_events
from shared.domain.errors import DomainError
from shared.metrics import DEAD_LETTERS, EVENTS_CONSUMED, HANDLER_SECONDS

log = structlog.get_logger(__name__)


class RetryLater(Exception):
    """The event arrived before what it depends on; retry it later (never apply out of order)."""


class Poison(Exception):
    """The message can never be applied; dead-letter it with this reason."""


@dataclass
class HandlerContext:
    """What a handler gets: its transaction, the time, the cause, and a way to emit."""

    conn: AsyncConnection
    now: datetime
    cause: Envelope
    producer: str
    deps: Any
    events: list[Envelope] = field(default_factory=list)

    def emit(self, payload: BaseModel, case_id: UUID | None = None) -> None:
        self.events.append(
            make_envelope(
                payload,
                producer=self.producer,
                occurred_at=self.now,
                case_id=case_id or self.cause.case_id,
                cause=self.cause,
            )
        )


Handler = Callable[[HandlerContext, Any], Awaitable[None]]
DeadLetterPublisher = Callable[[], Awaitable[AbstractExchange]]


class EventConsumer:
    def __init__(
        self,
        *,
        name: str,
        queue_name: str,
        engine: AsyncEngine,
        inbox: Table,
        outbox: Table,
        handlers: Mapping[str, Handler],
        clock: Clock,
        deps: Any,
        dead_letters: DeadLetterPublisher,
        on_committed: Callable[[], None] = lambda: None,
    ) -> None:
        self.name = name
        self.queue_name = queue_name
        self._engine = engine
        self._inbox = inbox
        self._outbox = outbox
        self._handlers = handlers
        self._clock = clock
        self._deps = deps
        self._dead_letters = dead_letters
        self._on_committed = on_committed

    async def __call__(self, message: AbstractIncomingMessage) -> None:
        etype = message.routing_key or "unknown"
        started = time.perf_counter()
        try:
            envelope, payload = self._parse(message)
            etype = envelope.type
            outcome = await self._apply(envelope, payload)
            await message.ack()
        except (Poison, DomainError, ValidationError) as exc:
            # ValidationError here comes from a handler building a domain value from the
            # payload (e.g. a location whose levels disagree): it will never succeed.
            outcome = "dead_lettered"
            await self._dead_letter(message, str(exc), kind=type(exc).__name__)
        except Exception as exc:
            outcome = "retried"
            await self._retry(message, exc)
        EVENTS_CONSUMED.labels(etype, outcome).inc()
        HANDLER_SECONDS.labels(etype).observe(time.perf_counter() - started)

    def _parse(self, message: AbstractIncomingMessage) -> tuple[Envelope, BaseModel]:
        try:
            envelope = Envelope.from_bytes(message.body)
        except ValidationError as exc:
            raise Poison(f"信封无法解析 (malformed envelope): {_short(exc)}") from exc
        model = payload_model(envelope.type, envelope.version)
        if model is None or envelope.type not in self._handlers:
            raise Poison(f"未知事件 (no contract/handler for {envelope.type} v{envelope.version})")
        try:
            return envelope, model.model_validate(envelope.data)
        except ValidationError as exc:
            raise Poison(f"事件内容无效 (invalid payload): {_short(exc)}") from exc

    async def _apply(self, envelope: Envelope, payload: BaseModel) -> str:
        handler = self._handlers[envelope.type]
        async with self._engine.begin() as conn:
            if not await claim_inbox(conn, self._inbox, self.name, envelope.id, envelope.type):
                return "duplicate"
            ctx = HandlerContext(
                conn=conn,
                now=self._clock.now(),
                cause=envelope,
                producer=self.name,
                deps=self._deps,
            )
            await handler(ctx, payload)
            await write_events(conn, self._outbox, ctx.events)
        if ctx.events:
            self._on_committed()
        return "applied"

    async def _retry(self, message: AbstractIncomingMessage, exc: Exception) -> None:
        raw = (message.headers or {}).get("x-delivery-count", 0)
        count = raw if isinstance(raw, int) else 0
        delay = min(0.2 * 2**count, 10.0) * (0.5 + random.random())
        level = "info" if isinstance(exc, RetryLater) else "warning"
        getattr(log, level)(
            "event_retry",
            consumer=self.name,
            message_id=message.message_id,
            attempt=count + 1,
            delay=round(delay, 2),
            error=repr(exc)[:300],
        )
        await asyncio.sleep(delay)
        await message.nack(requeue=True)

    async def _dead_letter(
        self, message: AbstractIncomingMessage, reason: str, *, kind: str
    ) -> None:
        log.error(
            "event_dead_lettered", consumer=self.name, message_id=message.message_id, reason=reason
        )
        DEAD_LETTERS.labels(self.queue_name, kind).inc()
        exchange = await self._dead_letters()
        headers = dict(message.headers or {})
        headers["x-shaobao-reason"] = reason[:1000]
        headers["x-shaobao-consumer"] = self.name
        await exchange.publish(
            aio_pika.Message(
                body=message.body,
                headers=headers,
                message_id=message.message_id,
                content_type=message.content_type,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                type=message.type,
            ),
            routing_key=self.queue_name,
        )
        await message.ack()


def _short(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
