"""The running parts every service shares: database, clock, broker, relay and consumers.

``ServiceRuntime`` is built by a service's composition root and started in its FastAPI
lifespan. It does no I/O until ``start()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Callable
from typing import Any

import asyncpg
import structlog
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractRobustConnection
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.clock import Clock, OffsetClock, SystemClock
from shared.db.dsn import asyncpg_dsn
from shared.db.engine import make_engine
from shared.messaging.connection import connect_cluster
from shared.messaging.consumer import EventConsumer, Handlers, routing_keys
from shared.messaging.relay import OutboxRelay
from shared.messaging.topology import QueueSpec, declare_exchanges, declare_queue
from shared.settings import Settings

log = structlog.get_logger(__name__)


def settle_heap(settings: Settings) -> None:
    """Tune the garbage collector for a long-running service, once it has started.

    A service's start leaves ~125,000 objects (modules, the schemas, SQLAlchemy's and
    pydantic's caches) that live as long as it does; every full collection walked them
    all. ``gc.freeze()`` moves them to a generation no collection visits. A larger first
    threshold lets an event's short-lived objects (envelopes, rows, statements in flight)
    die before a collection promotes them. Measured at 500 cases/s on the benchmark: the
    four services' CPU per case 2.38-2.41 -> 2.29-2.31 ms (docs/benchmarks.md). Only
    cyclic garbage waits for the collector; what reference counting frees is freed as
    before. Repeated calls (several apps in one test process) only freeze what is new.
    """
    if settings.gc_freeze:
        gc.collect()
        gc.freeze()
    if settings.gc_gen0_threshold:
        # the older generations every 20 collections of the one before (Python: 10)
        gc.set_threshold(settings.gc_gen0_threshold, 20, 20)
    log.info(
        "heap_settled",
        frozen=gc.get_freeze_count(),
        threshold=list(gc.get_threshold()),
    )


class ServiceRuntime:
    def __init__(
        self,
        settings: Settings,
        *,
        inbox: Table,
        outbox: Table,
        handlers: Handlers[Any],
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
            pack=settings.publish_batch,
            poll_seconds=settings.outbox_poll_seconds,
            idle_poll_seconds=settings.outbox_idle_poll_seconds,
            confirm_timeout=settings.amqp_confirm_timeout_seconds,
        )
        self._connection: AbstractRobustConnection | None = None
        self._publish_channel: AbstractChannel | None = None
        self._exchanges: tuple[AbstractExchange, AbstractExchange] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._broker_ready = asyncio.Event()
        self._consumers: list[EventConsumer[Any]] = []
        self._subscriptions: list[tuple[Any, str]] = []
        self._wake_listeners: dict[str, list[Callable[[], None]]] = {}

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
        # No new deliveries first; then the workers stop and what they had not applied
        # is redelivered (unacked) to another replica or the next start.
        for queue, tag in self._subscriptions:
            with contextlib.suppress(Exception):
                await queue.cancel(tag)
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

    def on_wake(self, poller: str, callback: Callable[[], None]) -> None:
        """Call ``callback`` after each consumer commit whose handlers asked to wake
        ``poller`` (``HandlerContext.wake``)."""
        self._wake_listeners.setdefault(poller, []).append(callback)

    def wake(self, poller: str) -> None:
        """Wake ``poller`` now (after a commit outside a consumer, e.g. an API action)."""
        self._wake({poller})

    def _wake(self, pollers: set[str]) -> None:
        for poller in pollers:
            for callback in self._wake_listeners.get(poller, ()):
                try:
                    callback()
                except Exception as exc:  # after the commit: a wake never undoes it
                    log.warning("wake_failed", poller=poller, error=repr(exc))

    def clock_moved(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` when the test clock moves (never with the system clock)."""
        if isinstance(self.clock, OffsetClock):
            self.clock.on_move(callback)

    def poke_relay(self) -> None:
        """Wake the relay after a commit that staged events."""
        self.relay.wake()

    # -- broker ----------------------------------------------------------------------
    async def _connect_broker(self) -> None:
        """Connect (retrying until the broker is there), declare topology, start consuming."""
        delay = 0.5
        while True:
            try:
                self._connection = await connect_cluster(
                    self.settings.amqp_urls,
                    name=self.name,
                    heartbeat=self.settings.amqp_heartbeat_seconds,
                    # After a broker restart or a lost node, the next try within a
                    # second (aio-pika's default is 5 s).
                    reconnect_interval=BROKER_RECONNECT_SECONDS,
                    timeout=BROKER_CONNECT_TIMEOUT_SECONDS,
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
        log.info("broker_ready", consumer_bindings=routing_keys(self.handlers))

    async def _start_consumer(self) -> None:
        assert self._connection is not None
        channel = await self._connection.channel()
        await channel.set_qos(prefetch_count=self.settings.prefetch)
        spec = QueueSpec(self.name, tuple(routing_keys(self.handlers)))
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
            resend=self.default_exchange,
            on_committed=self.poke_relay,
            on_wakes=self._wake,
            batch_size=self.settings.consumer_batch,
            workers=self.settings.consumer_workers,
            confirm_timeout=self.settings.amqp_confirm_timeout_seconds,
        )
        self._consumers.append(consumer)
        tag = await queue.consume(consumer)
        self._subscriptions.append((queue, tag))

    async def events_exchange(self) -> AbstractExchange:
        return (await self._exchange_pair())[0]

    async def dead_letter_exchange(self) -> AbstractExchange:
        return (await self._exchange_pair())[1]

    async def default_exchange(self) -> AbstractExchange:
        """The broker's default exchange on the confirming channel (routes by queue name)."""
        await self._exchange_pair()
        assert self._publish_channel is not None
        return self._publish_channel.default_exchange

    async def _exchange_pair(self) -> tuple[AbstractExchange, AbstractExchange]:
        if self._exchanges is None:
            await self._broker_ready.wait()
        assert self._exchanges is not None
        return self._exchanges

    # -- readiness -------------------------------------------------------------------
    async def check_ready(self) -> dict[str, str]:
        """Problems by part; empty when ready.

        The database is asked ``SELECT 1`` on a connection of the probe's own, outside the
        pool: readiness says whether PostgreSQL answers, not whether this process is busy
        (under a backlog every pooled connection is in use, and a busy replica must not be
        taken out of service for it). The broker is ready once topology and consumer are
        set up and while the robust connection is connected; it stays open, reconnecting,
        while RabbitMQ is away, so ``is_closed`` alone would say ready.
        """
        problems: dict[str, str] = {}
        try:
            await self._probe_database()
        except Exception as exc:
            problems["database"] = repr(exc)[:200]
        conn_ = self._connection
        if (
            conn_ is None
            or conn_.is_closed
            or not conn_.connected.is_set()
            or not self._broker_ready.is_set()
        ):
            problems["broker"] = "not connected"
        return problems

    async def _probe_database(self) -> None:
        """``SELECT 1`` within ``PROBE_SECONDS`` on the probe's connection (made on demand,
        dropped on any failure, closed when the runtime stops)."""
        state = self.__dict__.setdefault("_probe", _DatabaseProbe())
        async with asyncio.timeout(PROBE_SECONDS), state.lock:
            if state.conn is None or state.conn.is_closed():
                state.conn = await asyncpg.connect(
                    asyncpg_dsn(self.settings.database_url),
                    timeout=PROBE_SECONDS,
                    server_settings={"application_name": f"{self.name}-probe"},
                )
                if state.closer is None:
                    state.closer = asyncio.create_task(state.close_on_cancel(), name="db-probe")
                    self._tasks.append(state.closer)
            try:
                await state.conn.fetchval("SELECT 1", timeout=PROBE_SECONDS)
            except BaseException:
                state.drop()
                raise

    async def _lag_loop(self) -> None:
        while True:
            await asyncio.sleep(2.0)
            with contextlib.suppress(Exception):
                await self.relay.measure_lag()


BROKER_RECONNECT_SECONDS = 1.0
# One connection attempt (a paused node takes the TCP connection but never answers).
BROKER_CONNECT_TIMEOUT_SECONDS = 5.0
PROBE_SECONDS = 2.0


class _DatabaseProbe:
    """The readiness probe's own PostgreSQL connection (one at a time: a lock)."""

    def __init__(self) -> None:
        self.conn: asyncpg.Connection | None = None
        self.lock = asyncio.Lock()
        self.closer: asyncio.Task[None] | None = None

    def drop(self) -> None:
        if self.conn is not None:
            self.conn.terminate()
            self.conn = None

    async def close_on_cancel(self) -> None:
        """Runs with the runtime's tasks; when :meth:`ServiceRuntime.stop` cancels it, the
        probe's connection goes with it."""
        try:
            await asyncio.Event().wait()
        finally:
            self.drop()
