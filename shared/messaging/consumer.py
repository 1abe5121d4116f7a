"""The one shape of every consumer.

Ack policy, stated once: a message is acked only after the transaction holding its
effect and its inbox row has committed. A message whose envelope or payload does not
parse, or whose handler raises a domain error, is dead-lettered at once with the reason
in the ``x-shaobao-reason`` header. Anything else is transient: the message is
requeued after a back-off, and the quorum queue's delivery limit bounds the retries
(past it RabbitMQ dead-letters it).

Batching (the throughput path): messages that arrive together are applied together, up
to ``batch_size`` per transaction — one inbox insert for the batch, every handler in
turn on the same connection, the handlers' deferred inserts (timeline rows and the like)
as one array insert per table, one outbox insert, one commit, then each message is
acked. While a batch is in its transaction the next one gathers, so batches grow with
the load and a lone message waits for nobody. Each worker has its own lane, and a case's
events always take the same lane (chosen by case id): two transactions never apply
events of one case at once, so an event cannot find its predecessor stuck in the other
worker's uncommitted batch (that cost a whole batch a second pass, event by event). If
anything in a batch fails, the batch is rolled back and the worker applies each of its
events on its own, in lane order, with the semantics above: one bad message costs its
batch a second pass, never another message's effect. ``batch_size=1`` is one event per
transaction, through the same lanes.

Packed messages (:mod:`shared.messaging.wire`): a message may carry a batch of events.
Each event in it is applied as if it had come alone (same batching, same inbox), and
the message is acked once every event is settled. An event of the batch that cannot
parse, or whose handler raises a domain error, is dead-lettered alone with its reason;
one that still fails after the in-process tries is sent on alone to this service's own
queue (confirmed, before the batch is acked), where the single-message rules above
apply to it and the delivery limit bounds it. The rest of the batch is never redone.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Generic, Protocol, TypeVar
from uuid import UUID

import orjson
import structlog
from aio_pika.abc import AbstractExchange, AbstractIncomingMessage
from pydantic import BaseModel, ValidationError
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.clock import Clock
from shared.contracts.envelope import Envelope
from shared.contracts.events import event_type_of, payload_model
from shared.db.batch import BatchCall, Deferred, flush_deferred
from shared.db.outbox import claim_inbox, claim_inbox_many, write_events
from shared.db.unit import UnitOfWork
from shared.domain.errors import DomainError
from shared.messaging import wire
from shared.messaging.confirm import publish_confirmed
from shared.metrics import DEAD_LETTERS, EVENTS_CONSUMED, HANDLER_SECONDS
from shared.outages import dependency_unavailable

log = structlog.get_logger(__name__)
D = TypeVar("D")
P = TypeVar("P", bound=BaseModel, contravariant=True)


class RetryLater(Exception):
    """The event arrived before what it depends on; retry it later (never apply out of order)."""


class Poison(Exception):
    """The message can never be applied; dead-letter it with this reason."""


@dataclass(kw_only=True, eq=False)
class HandlerContext(UnitOfWork[D]):
    """A consumer handler's unit of work: its transaction, the time, the typed deps, the
    event that caused it, and a way to emit and defer (:class:`UnitOfWork`).

    What a batch shares (the deferred rows, ``memo``, ``peers``, ``wakes``) is the
    consumer's, for the service's repositories (e.g. the notifier's case facts, read
    once for the batch); handlers go through those, never through the flags."""

    cause: Envelope
    # Shared by the handlers of one transaction (a batch): what one read, the next may
    # reuse, e.g. the notifier's registered endpoints, read once per batch.
    memo: dict[str, Any] = field(default_factory=dict)
    # In a batch a repository may be optimistic: if its deferred rows fail at the flush
    # (a row already stored), the batch rolls back and every event is applied again
    # alone, with ``batched`` False, where it checks first.
    batched: bool = False
    # The cases of the batch's events, for a repository that reads for all of them at once.
    peers: tuple[UUID, ...] = ()
    # Pollers to wake once the transaction commits (shared by a batch; see wake()).
    wakes: set[str] = field(default_factory=set)

    def wake(self, poller: str) -> None:
        """Once this transaction has committed, wake ``poller`` (a background loop that
        backs off while idle, e.g. the notifier's ``deliveries`` worker): what the handler
        wrote is there for it at once (ServiceRuntime.on_wake)."""
        self.wakes.add(poller)

    def defer_call(self, run: BatchCall, params: dict[str, Any], *, case_id: UUID) -> None:
        """Add ``params`` to ``run``'s one statement at the batch's flush (see
        :meth:`Deferred.call`); a pending write of ``case_id``, the case it changes."""
        self.deferred.call(run, params, case_id=case_id)

    async def call(self, run: BatchCall, params: dict[str, Any], *, case_id: UUID) -> None:
        """Run ``run`` for ``params``: in a batch it joins the batch's one statement at
        the flush (:meth:`defer_call`), alone it runs now. Either way a failure of its
        row raises in this transaction."""
        if self.batched:
            self.deferred.call(run, params, case_id=case_id)
        else:
            await run(self.conn, [params])


class Handler(Protocol[P, D]):
    """A consumer handler: the payload it consumes (``P``, whose contract names the
    routing key) and the service's dependencies (``D``)."""

    def __call__(self, ctx: HandlerContext[D], event: P, /) -> Awaitable[None]: ...


# A service's handlers by the payload class they consume; the routing key (the queue's
# binding) and the version come from the contract (shared.contracts.events), stated once.
Handlers = Mapping[type[BaseModel], Handler[Any, D]]


def routing_keys(handlers: Handlers[Any]) -> list[str]:
    """The routing keys (event types) ``handlers`` consume, sorted."""
    return sorted({event_type_of(model)[0] for model in handlers})


_EARLY_TRIES = 3  # in-process tries of an early event before it spends a delivery


@dataclass
class _Item:
    envelope: Envelope
    payload: BaseModel
    done: asyncio.Future[str]


DeadLetterPublisher = Callable[[], Awaitable[AbstractExchange]]


class EventConsumer(Generic[D]):
    def __init__(
        self,
        *,
        name: str,
        queue_name: str,
        engine: AsyncEngine,
        inbox: Table,
        outbox: Table,
        handlers: Handlers[D],
        clock: Clock,
        deps: D,
        dead_letters: DeadLetterPublisher,
        resend: DeadLetterPublisher | None = None,
        on_committed: Callable[[], None] = lambda: None,
        on_wakes: Callable[[set[str]], None] = lambda wakes: None,
        batch_size: int = 1,
        workers: int = 1,
        confirm_timeout: float = 10.0,
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
        self._resend = resend
        self._on_committed = on_committed  # a commit staged events: wake the relay
        self._on_wakes = on_wakes  # after a commit: the pollers its handlers asked to wake
        self._batch_size = batch_size
        self._workers = workers
        self._confirm_timeout = confirm_timeout
        # One lane per worker; a case's events always take the same lane (by case id), so
        # they are applied in arrival order and never by two transactions at once.
        self._lanes: list[list[_Item]] = [[] for _ in range(workers)]
        self._wakes = [asyncio.Event() for _ in range(workers)]
        self._worker_tasks: list[asyncio.Task[None]] = []

    async def __call__(self, message: AbstractIncomingMessage) -> None:
        if wire.is_batch(message.content_type):
            await self._on_packed(message)
            return
        etype = message.routing_key or "unknown"
        started = time.perf_counter()
        try:
            envelope, payload = self._parse(message)
            etype = envelope.type
            outcome = await self._until_applied(envelope, payload)
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

    async def _on_packed(self, message: AbstractIncomingMessage) -> None:
        """A message carrying a batch of events: settle each, then ack the message once.

        Every event joins its lane before anything is awaited, so the message's events keep
        their order with those of the messages delivered before and after it."""
        try:
            raw = orjson.loads(message.body)
            if not isinstance(raw, list):
                raise TypeError("not a JSON array")
        except (orjson.JSONDecodeError, TypeError) as exc:
            EVENTS_CONSUMED.labels(message.type or "unknown", "dead_lettered").inc()
            await self._dead_letter(
                message, f"批量消息无法解析 (malformed batch): {exc}", kind="Poison"
            )
            return
        settling = []
        for item in raw:
            try:
                envelope, payload = self._parse_envelope(partial(Envelope.model_validate, item))
            except Poison as exc:
                settling.append(self._settle_one(item, message, poison=exc))
                continue
            first = self._enqueue(envelope, payload)
            settling.append(self._settle_one(item, message, parsed=(envelope, payload, first)))
        results = await asyncio.gather(*settling, return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:  # an event could not be sent on alone (the broker is away): all again
            log.warning("event_batch_requeued", consumer=self.name, error=repr(failed[0])[:300])
            with contextlib.suppress(Exception):
                await message.nack(requeue=True)
            return
        await message.ack()

    async def _settle_one(
        self,
        raw: Any,
        message: AbstractIncomingMessage,
        *,
        parsed: tuple[Envelope, BaseModel, asyncio.Future[str]] | None = None,
        poison: Poison | None = None,
    ) -> None:
        started = time.perf_counter()
        etype = message.type or "unknown"  # the routing key: never a label from the body
        try:
            if parsed is None:
                raise poison or Poison("事件无法解析 (unparsed)")
            envelope, payload, first = parsed
            outcome = await self._until_applied(envelope, payload, first)
        except (Poison, DomainError, ValidationError) as exc:
            outcome = "dead_lettered"
            await self._send_alone(raw, message, reason=str(exc), kind=type(exc).__name__)
        except Exception as exc:
            outcome = "sent_alone"
            log.info(
                "event_sent_alone",
                consumer=self.name,
                event_id=str(raw.get("id")) if isinstance(raw, dict) else None,
                error=repr(exc)[:300],
            )
            await self._send_alone(raw, message)
        EVENTS_CONSUMED.labels(etype, outcome).inc()
        HANDLER_SECONDS.labels(etype).observe(time.perf_counter() - started)

    async def _send_alone(
        self,
        raw: Any,
        message: AbstractIncomingMessage,
        *,
        reason: str | None = None,
        kind: str = "",
    ) -> None:
        """Publish one event of a batch as its own message: dead-lettered with ``reason``,
        or (no reason) back to this service's queue to be retried on its own."""
        event_id = str(raw.get("id")) if isinstance(raw, dict) else message.message_id
        await self._publish_alone(
            orjson.dumps(raw),
            message_id=event_id,
            content_type=wire.SINGLE_CONTENT_TYPE,
            etype=message.type,
            headers={"x-shaobao-from-batch": message.message_id or ""},
            reason=reason,
            kind=kind,
        )

    async def _publish_alone(
        self,
        body: bytes,
        *,
        message_id: str | None,
        content_type: str | None,
        etype: str | None,
        headers: dict[str, Any],
        reason: str | None,
        kind: str,
    ) -> None:
        """One message to this service's dead-letter queue (with ``reason``) or, without
        a reason, back to its own queue; confirmed before this returns (else
        :class:`~shared.messaging.confirm.PublishNotConfirmed`, and the message it came
        from is not acked)."""
        if reason is not None:
            log.error(
                "event_dead_lettered", consumer=self.name, message_id=message_id, reason=reason
            )
            DEAD_LETTERS.labels(self.queue_name, kind).inc()
            headers = headers | {
                "x-shaobao-reason": reason[:1000],
                "x-shaobao-consumer": self.name,
            }
            exchange = await self._dead_letters()
        else:
            if self._resend is None:
                raise RuntimeError("no exchange to send an event on alone")
            exchange = await self._resend()
        await publish_confirmed(
            exchange,
            wire.message(
                body,
                message_id=message_id,
                content_type=content_type,
                headers=headers,
                type=etype,
            ),
            routing_key=self.queue_name,
            timeout=self._confirm_timeout,
        )

    async def _until_applied(
        self,
        envelope: Envelope,
        payload: BaseModel,
        first: asyncio.Future[str] | None = None,
    ) -> str:
        """Apply the event; ride out an outage and give ``RetryLater`` a few quick tries.

        While the database (or broker) is away the message is held, unacked, and tried
        again here with a capped back-off: a requeue would spend one of the queue's
        deliveries on every try, and an outage of a few seconds would dead-letter the
        events in flight. An event that arrived before what it depends on (``RetryLater``)
        is tried again here a few times too before it is requeued; the delivery limit
        bounds only those that stay early.
        """
        outage_wait = 0.25
        early = 0
        while True:
            try:  # the first try may have joined its lane already (a packed message)
                done = first if first is not None else self._enqueue(envelope, payload)
                first = None
                return await done
            except RetryLater:
                early += 1
                if early > _EARLY_TRIES:
                    raise
                await asyncio.sleep(0.1 * 2**early * (0.5 + random.random()))
            except Exception as exc:
                part = dependency_unavailable(exc)
                if part is None:
                    raise
                log.warning(
                    "event_held_dependency_away",
                    consumer=self.name,
                    event_id=str(envelope.id),
                    part=part,
                    retry_in=round(outage_wait, 2),
                    error=repr(exc)[:200],
                )
                await asyncio.sleep(outage_wait)
                outage_wait = min(outage_wait * 2, 5.0)

    async def stop(self) -> None:
        """Stop the batch workers (messages waiting in a batch are redelivered unacked).

        Events still queued in a lane are cancelled too, so no message callback waits
        forever on a worker that is gone."""
        for task in self._worker_tasks:
            task.cancel()
        for task in self._worker_tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._worker_tasks.clear()
        for lane in self._lanes:
            for item in lane:
                if not item.done.done():
                    item.done.cancel()
            lane.clear()

    def _enqueue(self, envelope: Envelope, payload: BaseModel) -> asyncio.Future[str]:
        """Put the event in its case's lane (no await: arrival order is lane order)."""
        item = _Item(envelope, payload, asyncio.get_running_loop().create_future())
        lane = envelope.case_id.int % self._workers if envelope.case_id is not None else 0
        self._lanes[lane].append(item)
        self._wakes[lane].set()
        if not self._worker_tasks:
            self._worker_tasks = [
                asyncio.create_task(self._batch_worker(i), name=f"{self.name}-batch-{i}")
                for i in range(self._workers)
            ]
        return item.done

    async def _batch_worker(self, lane: int) -> None:
        pending, wake = self._lanes[lane], self._wakes[lane]
        while True:
            while not pending:
                wake.clear()
                await wake.wait()
            batch = pending[: self._batch_size]
            del pending[: self._batch_size]
            try:
                outcomes = await self._apply_batch(batch)
            except asyncio.CancelledError:
                for item in batch:
                    if not item.done.done():
                        item.done.cancel()
                raise
            except Exception as exc:
                if len(batch) == 1:  # alone already: its own outcome, not a second pass
                    if not batch[0].done.done():
                        batch[0].done.set_exception(exc)
                    continue
                log.info(
                    "event_batch_failed",
                    consumer=self.name,
                    size=len(batch),
                    error=repr(exc)[:300],
                )
                await self._one_by_one(batch)
                continue
            for item, outcome in zip(batch, outcomes, strict=True):
                if not item.done.done():
                    item.done.set_result(outcome)

    async def _one_by_one(self, batch: list[_Item]) -> None:
        """A failed batch's second pass: each event alone, in lane order, in this worker
        (so a case's later event never overtakes its earlier one)."""
        for n, item in enumerate(batch):
            if item.done.done():
                continue
            try:
                outcome = await self._apply(item.envelope, item.payload)
            except asyncio.CancelledError:
                for rest in batch[n:]:
                    if not rest.done.done():
                        rest.done.cancel()
                raise
            except Exception as exc:
                if not item.done.done():
                    item.done.set_exception(exc)
                continue
            if not item.done.done():
                item.done.set_result(outcome)

    async def _apply_batch(self, batch: list[_Item]) -> list[str]:
        outcomes: list[str] = []
        contexts: list[HandlerContext[D]] = []
        now = self._clock.now()
        async with self._engine.begin() as conn:
            claimed = await claim_inbox_many(
                conn, self._inbox, self.name, [(i.envelope.id, i.envelope.type) for i in batch]
            )
            deferred = Deferred()
            memo: dict[str, Any] = {}
            wakes: set[str] = set()
            peers = tuple({c for i in batch if (c := i.envelope.case_id) is not None})
            for item in batch:
                if item.envelope.id not in claimed:
                    outcomes.append("duplicate")
                    continue
                claimed.discard(item.envelope.id)  # a second copy in the same batch
                if deferred.holds(item.envelope.case_id):  # an earlier event of this case
                    await flush_deferred(conn, deferred)
                ctx = HandlerContext(
                    conn=conn,
                    now=now,
                    cause=item.envelope,
                    producer=self.name,
                    deps=self._deps,
                    deferred=deferred,
                    memo=memo,
                    batched=len(batch) > 1,  # alone, there is no second pass to fall back on
                    peers=peers,
                    wakes=wakes,
                )
                await self._handlers[type(item.payload)](ctx, item.payload)
                contexts.append(ctx)
                outcomes.append("applied")
            await flush_deferred(conn, deferred)
            events = [e for ctx in contexts for e in ctx.events]
            await write_events(conn, self._outbox, events)
        if events:
            self._on_committed()
        if wakes:
            self._on_wakes(wakes)
        return outcomes

    def _parse(self, message: AbstractIncomingMessage) -> tuple[Envelope, BaseModel]:
        return self._parse_envelope(lambda: Envelope.from_bytes(message.body))

    def _parse_envelope(self, read: Callable[[], Envelope]) -> tuple[Envelope, BaseModel]:
        try:
            envelope = read()
        except ValidationError as exc:
            raise Poison(f"信封无法解析 (malformed envelope): {_short(exc)}") from exc
        model = payload_model(envelope.type, envelope.version)
        if model is None or model not in self._handlers:
            raise Poison(f"未知事件 (no contract/handler for {envelope.type} v{envelope.version})")
        try:
            return envelope, model.model_validate(envelope.data)
        except ValidationError as exc:
            raise Poison(f"事件内容无效 (invalid payload): {_short(exc)}") from exc

    async def _apply(self, envelope: Envelope, payload: BaseModel) -> str:
        handler = self._handlers[type(payload)]
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
            await ctx.flush(self._outbox)
        if ctx.events:
            self._on_committed()
        if ctx.wakes:
            self._on_wakes(ctx.wakes)
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
        await self._publish_alone(
            message.body,
            message_id=message.message_id,
            content_type=message.content_type,
            etype=message.type,
            headers=dict(message.headers or {}),
            reason=reason,
            kind=kind,
        )
        await message.ack()


def _short(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
