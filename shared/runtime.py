"""The running parts every service shares: database, clock, broker, relay and consumers.

``ServiceRuntime`` is built by a service's composition root and started in its FastAPI
lifespan. It does no I/O until ``start()``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

import aio_pika
import structlog
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractRobustConnection
from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.clock import Clock, OffsetClock, SystemClock
from shared.db.engine import make_engine
from shared.messaging.consumer import EventConsumer, Handler
from shared.messaging.relay import OutboxRelay
from shared.messaging.topology import QueueSpec, declare_exchanges, declare_queue
from shared.settings import Settings

log = structlog.get_logger(__name__)


class ServiceRuntime:
    def __init__(
        self,
        settings: Settings,
        *,
        inbox: Table,
        outbox: Table,
        handlers: Mapping[str, Handler],
        deps: Any = None,
        engine: AsyncEngine | None = None,
    ) -> None:
        self.settings = settings
        self.name = settings.service_name
        self.engine = engine or make_engine(settings)
        self.clock: Clock = OffsetClock(self.engine) if settings.test_clock else SystemClock()
        self.inbox = inbox
        self.outbox = outbox
        self.handlers = handlers
        self.deps = deps
        self.relay = OutboxRelay(
            self.engine,
            outbox,
            self.events_exchange,
            batch=settings.outbox_batch,
            poll_seconds=settings.outbox_poll_seconds,
        )
        self._connection: AbstractRobustConnection | None = None
        self._publish_channel: AbstractChannel | None = None
        self._exchanges: tuple[AbstractExchange, AbstractExchange] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._broker_ready = asyncio.Event()
        self._consumers: list[EventConsumer] = []

    # -- lifecycle -------------------------------------------------------------------
    async def start(self, *, background: list[Any] | None = None) -> None:
        if isinstance(self.clock, OffsetClock):
            await self.clock.start()
        self._tasks.append(asyncio.create_task(self._connect_broker(), name="broker-connect"))
        self._tasks.append(asyncio.create_task(self.relay.run(), name="outbox-relay"))
        self._tasks.append(asyncio.create_task(self._lag_loop(), name="outbox-lag"))
        for job in background or []:
            self._tasks.append(asyncio.create_task(job(), name=getattr(job, "__name__", "job")))

    async def stop(self) -> None:
        for consumer in self._consumers:
            await consumer.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if isinstance(self.clock, OffsetClock):
            await self.clock.stop()
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()
        await self.engine.dispose()

    def poke_relay(self) -> None:
        """Wake the relay after a commit that staged events."""
        self.relay.wakeup.set()

    # -- broker ----------------------------------------------------------------------
    async def _connect_broker(self) -> None:
        """Connect (retrying until the broker is there), declare topology, start consuming."""
        delay = 0.5
        while True:
            try:
                self._connection = await aio_pika.connect_robust(
                    self.settings.amqp_url, client_properties={"connection_name": self.name}
                )
                break
            except Exception as exc:
                log.warning("broker_connect_failed", error=repr(exc), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        self._publish_channel = await self._connection.channel(publisher_confirms=True)
        self._exchanges = await declare_exchanges(self._publish_channel, self.settings)
        if self.handlers:
            await self._start_consumer()
        self._broker_ready.set()
        log.info("broker_ready", consumer_bindings=sorted(self.handlers))

    async def _start_consumer(self) -> None:
        assert self._connection is not None
        channel = await self._connection.channel()
        await channel.set_qos(prefetch_count=self.settings.prefetch)
        spec = QueueSpec(self.name, tuple(sorted(self.handlers)))
        queue = await declare_queue(channel, self.settings, spec)
        consumer = EventConsumer(
            name=self.name,
            queue_name=spec.name,
            engine=self.engine,
            inbox=self.inbox,
            outbox=self.outbox,
            handlers=self.handlers,
            clock=self.clock,
            deps=self.deps,
            dead_letters=self.dead_letter_exchange,
            on_committed=self.poke_relay,
            batch_size=self.settings.consumer_batch,
            workers=self.settings.consumer_workers,
        )
        self._consumers.append(consumer)
        await queue.consume(consumer)

    async def events_exchange(self) -> AbstractExchange:
        return (await self._exchange_pair())[0]

    async def dead_letter_exchange(self) -> AbstractExchange:
        return (await self._exchange_pair())[1]

    async def _exchange_pair(self) -> tuple[AbstractExchange, AbstractExchange]:
        if self._exchanges is None:
            await self._broker_ready.wait()
        assert self._exchanges is not None
        return self._exchanges

    # -- readiness -------------------------------------------------------------------
    async def check_ready(self) -> dict[str, str]:
        """Problems by part; empty when ready."""
        problems: dict[str, str] = {}
        try:
            async with asyncio.timeout(2):
                async with self.engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
        except Exception as exc:
            problems["database"] = repr(exc)[:200]
        conn_ = self._connection
        if conn_ is None or conn_.is_closed or not self._broker_ready.is_set():
            problems["broker"] = "not connected"
        return problems

    async def _lag_loop(self) -> None:
        while True:
            await asyncio.sleep(2.0)
            with contextlib.suppress(Exception):
                await self.relay.measure_lag()
