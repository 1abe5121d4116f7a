"""Outbox relay and consumer against real PostgreSQL and RabbitMQ.

Uses outbox/inbox tables in a private schema (so no running service's relay touches
them) and a queue name unique to each test.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID, uuid4

import aio_pika
import pytest
from aio_pika.abc import AbstractRobustConnection
from sqlalchemy import (
    BigInteger,
    Column,
    Identity,
    MetaData,
    Table,
    Text,
    event,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.clock import SystemClock
from shared.contracts.envelope import Envelope, make_envelope
from shared.contracts.events import CaseReceived, LocationData
from shared.db.outbox import inbox_table, outbox_table, write_events
from shared.domain.errors import DomainError
from shared.messaging import wire
from shared.messaging.consumer import _EARLY_TRIES, EventConsumer, HandlerContext, RetryLater
from shared.messaging.relay import OutboxRelay
from shared.messaging.topology import QueueSpec, declare_exchanges, declare_queue
from shared.metrics import EVENTS_CONSUMED
from tests.support.stack import StackUnderTest
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

private = MetaData(schema="relay_test")
outbox = outbox_table(private)
inbox = inbox_table(private)
applied = Table(
    "applied",
    private,
    Column("seq", BigInteger, Identity(), primary_key=True),
    Column("case_id", Text, nullable=False),
    Column("txid", BigInteger, nullable=False),
)


@pytest.fixture(autouse=True)
async def _private_tables(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("CREATE SCHEMA IF NOT EXISTS relay_test"))
        await conn.run_sync(private.create_all)


def _event() -> CaseReceived:
    return CaseReceived(
        case_id=uuid4(),
        channel="hotline_12345",
        category="property.elevator",
        title="电梯停运",
        description="d",
        location=LocationData(compound="k01"),
    )


async def _staged(
    engine: AsyncEngine,
    amqp: AbstractRobustConnection,
    stack: StackUnderTest,
    n: int,
    kinds: list[str] | None = None,
    **relay: int | float,
) -> tuple[OutboxRelay, aio_pika.abc.AbstractQueue, list[Envelope]]:
    """``n`` events staged in the private outbox (of the types ``kinds`` names, in turn;
    else all ``case.received``), a relay for it, a probe bound to them."""
    kinds = kinds or ["case.received"] * n
    settings = stack.settings()
    channel = await amqp.channel(publisher_confirms=True)
    events_x, _ = await declare_exchanges(channel, settings)
    probe = await channel.declare_queue(exclusive=True)
    for key in sorted(set(kinds)):
        await probe.bind(events_x, routing_key=key)
    envs = [
        make_envelope(
            e, producer="test", occurred_at=datetime.now(UTC), case_id=e.case_id
        ).model_copy(update={"type": kind})
        for e, kind in ((_event(), k) for k in kinds[:n])
    ]
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM relay_test.outbox"))
        await write_events(conn, outbox, envs)

    async def exchange() -> aio_pika.abc.AbstractExchange:
        return events_x

    return OutboxRelay(engine, outbox, exchange, **relay), probe, envs  # type: ignore[arg-type]


async def test_relay_publishes_each_staged_event_once_with_its_id(
    engine: AsyncEngine, amqp: AbstractRobustConnection, stack: StackUnderTest
) -> None:
    relay, probe, envs = await _staged(engine, amqp, stack, 5, batch=3, poll_seconds=0.05)
    assert await relay.publish_once() == 3
    assert await relay.publish_once() == 2
    assert await relay.publish_once() == 0
    got = []
    async with probe.iterator() as it:
        async for msg in it:
            got.append(msg.message_id)
            await msg.ack()
            if len(got) == 5:
                break
    assert got == [str(e.id) for e in envs]
    async with engine.connect() as conn:
        unsent = await conn.scalar(
            select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
        )
    assert unsent == 0


async def _consumer_setup(
    amqp: AbstractRobustConnection,
    stack: StackUnderTest,
    engine: AsyncEngine,
    handler: object,
    *,
    batch_size: int = 1,
    on_wakes: Callable[[set[str]], None] = lambda wakes: None,
) -> tuple[aio_pika.abc.AbstractExchange, QueueSpec]:
    settings = stack.settings(delivery_limit=3)
    pub = await amqp.channel(publisher_confirms=True)
    events_x, dead_x = await declare_exchanges(pub, settings)
    spec = QueueSpec(f"test{secrets.token_hex(3)}", ("case.received",))
    sub = await amqp.channel()
    await sub.set_qos(prefetch_count=50)
    queue = await declare_queue(sub, settings, spec)

    async def dead() -> aio_pika.abc.AbstractExchange:
        return dead_x

    async def resend() -> aio_pika.abc.AbstractExchange:
        return pub.default_exchange

    consumer = EventConsumer(
        name=spec.service,
        queue_name=spec.name,
        engine=engine,
        inbox=inbox,
        outbox=outbox,
        handlers={CaseReceived: handler},
        clock=SystemClock(),
        deps=None,
        dead_letters=dead,
        resend=resend,
        on_wakes=on_wakes,
        batch_size=batch_size,
        workers=2,
    )
    await queue.consume(consumer)
    return events_x, spec


async def _dead_letters(
    amqp: AbstractRobustConnection, spec: QueueSpec
) -> list[aio_pika.abc.AbstractIncomingMessage]:
    ch = await amqp.channel()
    q = await ch.get_queue(spec.dead_letter_name)
    out = []
    while (msg := await q.get(fail=False)) is not None:
        out.append(msg)
        await msg.ack()
    return out


async def test_a_redelivered_event_changes_nothing_the_second_time(
    engine: AsyncEngine, amqp: AbstractRobustConnection, stack: StackUnderTest
) -> None:
    seen: list[str] = []

    async def handler(ctx: HandlerContext, event: CaseReceived) -> None:
        seen.append(str(event.case_id))

    events_x, spec = await _consumer_setup(amqp, stack, engine, handler)
    env = make_envelope(_event(), producer="test", occurred_at=datetime.now(UTC), case_id=None)
    for _ in range(3):
        await events_x.publish(
            aio_pika.Message(env.to_bytes(), message_id=str(env.id)), "case.received"
        )

    async def processed() -> bool:
        async with engine.connect() as conn:
            n = await conn.scalar(
                select(func.count()).select_from(inbox).where(inbox.c.consumer == spec.service)
            )
        return n == 1

    await eventually(processed, what="inbox row")
    await asyncio.sleep(0.3)  # give the two duplicates time to be (not) applied
    assert len(seen) == 1


@pytest.mark.parametrize("batch_size", [1, 20])
async def test_a_handlers_wake_reaches_its_poller_after_the_commit_and_a_duplicate_wakes_none(
    engine: AsyncEngine, amqp: AbstractRobustConnection, stack: StackUnderTest, batch_size: int
) -> None:
    """How the notifier's delivery worker hears of a due delivery (HandlerContext.wake,
    ServiceRuntime.on_wake): once the handler's transaction has committed, never before,
    and not for a redelivered event."""
    order: list[str] = []

    def committed(conn: object) -> None:
        order.append("commit")

    async def handler(ctx: HandlerContext, event: CaseReceived) -> None:
        ctx.wake("deliveries")
        order.append("handled")

    def on_wakes(pollers: set[str]) -> None:
        order.append("wake:" + ",".join(sorted(pollers)))

    def duplicates() -> float:
        return EVENTS_CONSUMED.labels("case.received", "duplicate")._value.get()

    event.listen(engine.sync_engine, "commit", committed)
    try:
        events_x, _ = await _consumer_setup(
            amqp, stack, engine, handler, batch_size=batch_size, on_wakes=on_wakes
        )
        env = make_envelope(_event(), producer="test", occurred_at=datetime.now(UTC), case_id=None)
        await events_x.publish(
            aio_pika.Message(env.to_bytes(), message_id=str(env.id)), "case.received"
        )

        async def woke() -> bool:
            return any(o.startswith("wake") for o in order)

        await eventually(woke, what="a wake after the commit")
        assert order == ["handled", "commit", "wake:deliveries"]

        before = duplicates()
        await events_x.publish(
            aio_pika.Message(env.to_bytes(), message_id=str(env.id)), "case.received"
        )

        async def settled() -> bool:
            return duplicates() > before

        await eventually(settled, what="the redelivery settled as a duplicate")
        # its transaction (the inbox claim that finds the row) commits, nothing is applied
        # and no poller is woken
        assert order.count("handled") == 1 and order.count("wake:deliveries") == 1
    finally:
        event.remove(engine.sync_engine, "commit", committed)


async def test_a_malformed_message_goes_to_the_dead_letter_queue_at_once_with_a_reason(
    engine: AsyncEngine, amqp: AbstractRobustConnection, stack: StackUnderTest
) -> None:
    async def handler(ctx: HandlerContext, event: CaseReceived) -> None:
        raise AssertionError("never called")

    events_x, spec = await _consumer_setup(amqp, stack, engine, handler)
    await events_x.publish(aio_pika.Message(b"{not json", message_id="poison-1"), "case.received")
    dead = await eventually(lambda: _dead_letters(amqp, spec), what="dead letter")
    assert dead[0].message_id == "poison-1"
    assert "malformed" in str(dead[0].headers["x-shaobao-reason"])
    assert dead[0].headers.get("x-delivery-count") in (None, 0)


async def test_a_transient_failure_is_retried_then_bounded_by_the_delivery_limit(
    engine: AsyncEngine, amqp: AbstractRobustConnection, stack: StackUnderTest
) -> None:
    attempts: list[int] = []

    async def handler(ctx: HandlerContext, event: CaseReceived) -> None:
        attempts.append(1)
        raise RetryLater("dependency not there yet")

    events_x, spec = await _consumer_setup(amqp, stack, engine, handler)
    env = make_envelope(_event(), producer="test", occurred_at=datetime.now(UTC), case_id=None)
    await events_x.publish(
        aio_pika.Message(env.to_bytes(), message_id=str(env.id)), "case.received"
    )
    dead = await eventually(
        lambda: _dead_letters(amqp, spec), timeout=60, what="dead letter after limit"
    )
    assert dead[0].message_id == str(env.id)
    # first delivery + 3 redeliveries (x-delivery-limit = 3), each tried in-process
    # _EARLY_TRIES more times before it is requeued
    assert len(attempts) == 4 * (1 + _EARLY_TRIES)
    async with engine.connect() as conn:
        n = await conn.scalar(
            select(func.count()).select_from(inbox).where(inbox.c.consumer == spec.service)
        )
    assert n == 0  # nothing was applied


async def test_a_retried_event_that_later_succeeds_is_applied_once(
    engine: AsyncEngine, amqp: AbstractRobustConnection, stack: StackUnderTest
) -> None:
    calls: list[int] = []

    async def handler(ctx: HandlerContext, event: CaseReceived) -> None:
        calls.append(1)
        if len(calls) < 2:
            raise RetryLater("not yet")

    events_x, _spec = await _consumer_setup(amqp, stack, engine, handler)
    env = make_envelope(_event(), producer="test", occurred_at=datetime.now(UTC), case_id=None)
    await events_x.publish(
        aio_pika.Message(env.to_bytes(), message_id=str(env.id)), "case.received"
    )

    async def applied() -> bool:
        async with engine.connect() as conn:
            return bool(
                await conn.scalar(
                    select(func.count()).select_from(inbox).where(inbox.c.event_id == env.id)
                )
            )

    await eventually(applied, what="applied after retry")
    assert len(calls) == 2


async def _record(ctx: HandlerContext, event: CaseReceived) -> None:
    txid = await ctx.conn.scalar(text("SELECT txid_current()"))
    ctx.defer(applied, {"case_id": str(event.case_id), "txid": txid})


async def _applied_rows(engine: AsyncEngine, case_ids: set[str]) -> list[tuple[str, int]]:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(applied.c.case_id, applied.c.txid))).all()
    return [(r.case_id, r.txid) for r in rows if r.case_id in case_ids]


async def test_events_arriving_together_are_applied_together_each_once(
    engine: AsyncEngine, amqp: AbstractRobustConnection, stack: StackUnderTest
) -> None:
    events_x, _spec = await _consumer_setup(amqp, stack, engine, _record, batch_size=50)
    envs = [
        make_envelope(e, producer="test", occurred_at=datetime.now(UTC), case_id=e.case_id)
        for e in (_event() for _ in range(120))
    ]
    copies = [*envs, envs[0], envs[0], envs[7]]  # a republished window: three extra copies
    await asyncio.gather(
        *(
            events_x.publish(aio_pika.Message(e.to_bytes(), message_id=str(e.id)), "case.received")
            for e in copies
        )
    )
    ids = {str(e.case_id) for e in envs}

    async def all_applied() -> list[tuple[str, int]] | None:
        rows = await _applied_rows(engine, ids)
        return rows if len(rows) >= len(ids) else None

    rows = await eventually(all_applied, what="120 events applied")
    await asyncio.sleep(0.5)  # the extra copies have time to be (not) applied
    rows = await _applied_rows(engine, ids)
    assert sorted(c for c, _ in rows) == sorted(ids)  # each once, copies changed nothing
    transactions = {t for _, t in rows}
    assert len(transactions) < len(ids) / 2  # batched: far fewer commits than events


async def test_one_bad_event_in_a_batch_is_dead_lettered_and_the_others_are_applied_once(
    engine: AsyncEngine, amqp: AbstractRobustConnection, stack: StackUnderTest
) -> None:
    bad = _event()

    async def handler(ctx: HandlerContext, event: CaseReceived) -> None:
        await _record(ctx, event)
        if event.case_id == bad.case_id:
            raise DomainError("无法办理 (refused by the domain)")

    events_x, spec = await _consumer_setup(amqp, stack, engine, handler, batch_size=50)
    good = [_event() for _ in range(40)]
    envs = [
        make_envelope(e, producer="test", occurred_at=datetime.now(UTC), case_id=e.case_id)
        for e in [*good[:20], bad, *good[20:]]
    ]
    await asyncio.gather(
        *(
            events_x.publish(aio_pika.Message(e.to_bytes(), message_id=str(e.id)), "case.received")
            for e in envs
        )
    )
    dead = await eventually(lambda: _dead_letters(amqp, spec), what="the bad event dead-lettered")
    assert [m.message_id for m in dead] == [str(envs[20].id)]
    assert "refused by the domain" in str(dead[0].headers["x-shaobao-reason"])
    ids = {str(e.case_id) for e in good}

    async def all_good() -> list[tuple[str, int]] | None:
        rows = await _applied_rows(engine, ids | {str(bad.case_id)})
        return rows if len(rows) >= len(ids) else None

    await eventually(all_good, what="the 40 good events applied")
    await asyncio.sleep(0.3)
    rows = await _applied_rows(engine, ids | {str(bad.case_id)})
    # the failed batch was rolled back whole: no row of the bad event, one of each good one
    assert sorted(c for c, _ in rows) == sorted(ids)


async def test_an_event_is_held_while_the_database_is_away_and_spends_no_delivery(
    engine: AsyncEngine, amqp: AbstractRobustConnection, stack: StackUnderTest
) -> None:
    """Six refused connections (more than the delivery limit of 3): still applied once."""
    calls: list[int] = []

    async def handler(ctx: HandlerContext, event: CaseReceived) -> None:
        calls.append(1)
        if len(calls) <= 6:
            raise ConnectionRefusedError("database away")
        await _record(ctx, event)

    events_x, spec = await _consumer_setup(amqp, stack, engine, handler)
    event = _event()
    env = make_envelope(event, producer="test", occurred_at=datetime.now(UTC), case_id=None)
    await events_x.publish(
        aio_pika.Message(env.to_bytes(), message_id=str(env.id)), "case.received"
    )

    async def applied_once() -> list[tuple[str, int]] | None:
        rows = await _applied_rows(engine, {str(event.case_id)})
        return rows or None

    await eventually(applied_once, timeout=60, what="applied after the outage")
    assert len(await _applied_rows(engine, {str(event.case_id)})) == 1
    assert len(calls) == 7
    assert await _dead_letters(amqp, spec) == []


async def test_relay_packs_a_windows_events_of_one_type_into_few_messages_each_event_once(
    engine: AsyncEngine, amqp: AbstractRobustConnection, stack: StackUnderTest
) -> None:
    relay, probe, envs = await _staged(
        engine, amqp, stack, 120, batch=200, poll_seconds=0.05, pack=50
    )
    assert await relay.publish_once() == 120
    messages = []
    async with probe.iterator() as it:
        async for msg in it:
            messages.append(msg)
            await msg.ack()
            if len(messages) == 3:
                break
    assert [wire.is_batch(m.content_type) for m in messages] == [True, True, True]
    assert [m.headers[wire.COUNT_HEADER] for m in messages] == [50, 50, 20]
    carried = [e["id"] for m in messages for e in wire.envelopes(m.body, m.content_type)]
    assert carried == [str(e.id) for e in envs]  # every event once, in outbox order
    assert await probe.get(fail=False) is None


def _packed(envs: list[object]) -> aio_pika.Message:
    bodies = [e.to_bytes() for e in envs]  # type: ignore[attr-defined]
    return aio_pika.Message(
        wire.pack(bodies),
        message_id="pack-1",
        content_type=wire.BATCH_CONTENT_TYPE,
        headers={wire.COUNT_HEADER: len(bodies)},
        type="case.received",
    )


async def test_a_packed_message_settles_each_event_alone_bad_ones_leave_alone(
    engine: AsyncEngine, amqp: AbstractRobustConnection, stack: StackUnderTest
) -> None:
    """In one packed message: 30 good events, one the domain refuses, one that stays
    early. The good are applied once each; the refused one is dead-lettered alone with its
    reason; the early one is sent on alone and ends in the dead-letter queue only after
    the delivery limit; nothing else is redone and the packed message is gone."""
    refused, early = _event(), _event()
    early_tries: list[int] = []

    async def handler(ctx: HandlerContext, event: CaseReceived) -> None:
        if event.case_id == refused.case_id:
            raise DomainError("无法办理 (refused by the domain)")
        if event.case_id == early.case_id:
            early_tries.append(1)
            raise RetryLater("not yet")
        await _record(ctx, event)

    events_x, spec = await _consumer_setup(amqp, stack, engine, handler, batch_size=50)
    good = [_event() for _ in range(30)]
    envs = [
        make_envelope(e, producer="test", occurred_at=datetime.now(UTC), case_id=e.case_id)
        for e in [*good[:10], refused, *good[10:20], early, *good[20:]]
    ]
    await events_x.publish(_packed(envs), "case.received")

    async def both_dead() -> list[aio_pika.abc.AbstractIncomingMessage] | None:
        found.extend(await _dead_letters(amqp, spec))
        return found if len(found) >= 2 else None

    found: list[aio_pika.abc.AbstractIncomingMessage] = []
    dead = await eventually(both_dead, timeout=60, what="the refused and the early event")
    by_id = {m.message_id: m for m in dead}
    assert set(by_id) == {str(envs[10].id), str(envs[21].id)}
    assert "refused by the domain" in str(by_id[str(envs[10].id)].headers["x-shaobao-reason"])
    for m in dead:  # each left as a single event, its own envelope
        assert not wire.is_batch(m.content_type)
        assert [e["id"] for e in wire.envelopes(m.body, m.content_type)] == [m.message_id]
    # the early one: its tries in the packed message, then 1 + 3 deliveries alone (plus
    # one try inside a batch when it shared one with good events: the batch's first pass)
    assert (1 + _EARLY_TRIES) * (1 + 4) <= len(early_tries) <= (1 + _EARLY_TRIES) * (1 + 4) + 1
    rows = await _applied_rows(engine, {str(e.case_id) for e in [*good, refused, early]})
    assert sorted(c for c, _ in rows) == sorted(str(e.case_id) for e in good)
    ch = await amqp.channel()
    queue = await ch.declare_queue(spec.name, passive=True)
    assert queue.declaration_result.message_count == 0  # the packed message was acked


async def test_a_packed_message_delivered_again_changes_nothing(
    engine: AsyncEngine, amqp: AbstractRobustConnection, stack: StackUnderTest
) -> None:
    events_x, spec = await _consumer_setup(amqp, stack, engine, _record, batch_size=50)
    envs = [
        make_envelope(e, producer="test", occurred_at=datetime.now(UTC), case_id=e.case_id)
        for e in (_event() for _ in range(25))
    ]
    for _ in range(2):
        await events_x.publish(_packed(envs), "case.received")
    ids = {str(e.case_id) for e in envs}

    async def all_applied() -> list[tuple[str, int]] | None:
        rows = await _applied_rows(engine, ids)
        return rows if len(rows) >= len(ids) else None

    await eventually(all_applied, what="25 events applied")
    await asyncio.sleep(0.5)
    rows = await _applied_rows(engine, ids)
    assert sorted(c for c, _ in rows) == sorted(ids)
    assert await _dead_letters(amqp, spec) == []


async def test_a_malformed_packed_message_is_dead_lettered_whole_with_a_reason(
    engine: AsyncEngine, amqp: AbstractRobustConnection, stack: StackUnderTest
) -> None:
    async def handler(ctx: HandlerContext, event: CaseReceived) -> None:
        raise AssertionError("never called")

    events_x, spec = await _consumer_setup(amqp, stack, engine, handler)
    await events_x.publish(
        aio_pika.Message(
            b'{"not": "a list"}', message_id="pack-bad", content_type=wire.BATCH_CONTENT_TYPE
        ),
        "case.received",
    )
    dead = await eventually(lambda: _dead_letters(amqp, spec), what="dead letter")
    assert dead[0].message_id == "pack-bad"
    assert "malformed batch" in str(dead[0].headers["x-shaobao-reason"])


async def test_a_cases_events_share_a_lane_so_none_finds_its_predecessor_uncommitted(
    engine: AsyncEngine, amqp: AbstractRobustConnection, stack: StackUnderTest
) -> None:
    """Two workers; each case has a first event and a second that needs the first's row.
    In arrival order, on one lane, every second event finds its first: each handler runs
    exactly once (no early retry, no batch's second pass)."""
    await _first_and_second(engine, amqp, stack, deferred=False)


async def test_a_second_event_of_a_case_in_one_batch_reads_what_the_first_deferred(
    engine: AsyncEngine, amqp: AbstractRobustConnection, stack: StackUnderTest
) -> None:
    """The first event's row is deferred to the batch's array insert; the second, in the
    same batch, still finds it (the batch flushes before an event of a case with rows
    pending), so each handler runs exactly once."""
    await _first_and_second(engine, amqp, stack, deferred=True)


async def _first_and_second(
    engine: AsyncEngine, amqp: AbstractRobustConnection, stack: StackUnderTest, *, deferred: bool
) -> None:
    calls: list[str] = []
    seconds: set[UUID] = set()

    async def handler(ctx: HandlerContext, event: CaseReceived) -> None:
        calls.append(str(ctx.cause.id))
        if ctx.cause.id in seconds:
            found = await ctx.conn.scalar(
                select(func.count())
                .select_from(applied)
                .where(applied.c.case_id == str(event.case_id))
            )
            if not found:
                raise RetryLater("the first event of this case is not applied yet")
            return
        if deferred:
            ctx.defer(applied, {"case_id": str(event.case_id), "txid": 0})
        else:
            await ctx.conn.execute(insert(applied).values(case_id=str(event.case_id), txid=0))

    events_x, _spec = await _consumer_setup(amqp, stack, engine, handler, batch_size=30)
    firsts = [_event() for _ in range(60)]
    envs = []
    for e in firsts:
        first = make_envelope(e, producer="t", occurred_at=datetime.now(UTC), case_id=e.case_id)
        second = make_envelope(e, producer="t", occurred_at=datetime.now(UTC), case_id=e.case_id)
        seconds.add(second.id)
        envs += [first, second]
    for at in range(0, len(envs), 40):
        await events_x.publish(_packed(envs[at : at + 40]), "case.received")

    async def all_done() -> bool:
        return len(set(calls)) == len(envs)

    await eventually(all_done, what="120 events applied")
    await asyncio.sleep(0.3)
    assert sorted(calls) == sorted(str(e.id) for e in envs)  # each handler ran once


async def test_relay_keeps_outbox_order_across_routing_keys(
    engine: AsyncEngine, amqp: AbstractRobustConnection, stack: StackUnderTest
) -> None:
    """Only consecutive events of one type share a message: a window A A B A leaves as
    [A A] [B] [A], never as [A A A] [B] (a case's later event before its earlier one)."""
    kinds = ["case.received", "case.received", "case.duplicate_linked", "case.received"]
    relay, probe, envs = await _staged(
        engine, amqp, stack, 4, kinds, batch=10, poll_seconds=0.05, pack=50
    )
    assert await relay.publish_once() == 4
    got = []
    async with probe.iterator() as it:
        async for msg in it:
            got.append((msg.type, [e["id"] for e in wire.envelopes(msg.body, msg.content_type)]))
            await msg.ack()
            if len(got) == 3:
                break
    ids = [str(e.id) for e in envs]
    assert got == [
        ("case.received", ids[:2]),
        ("case.duplicate_linked", ids[2:3]),
        ("case.received", ids[3:]),
    ]


async def test_stop_leaves_no_event_waiting_on_a_worker_that_is_gone(
    engine: AsyncEngine,
) -> None:
    """One event stuck in its handler, two more queued behind it in the lane: stop()
    cancels all three (their messages stay unacked, so the broker redelivers them)."""
    entered = asyncio.Event()

    async def handler(ctx: HandlerContext, event: CaseReceived) -> None:
        entered.set()
        await asyncio.Event().wait()  # never returns

    async def no_exchange() -> aio_pika.abc.AbstractExchange:
        raise AssertionError("nothing is dead-lettered")

    consumer = EventConsumer(
        name="stoptest", queue_name="shaobao.stoptest", engine=engine, inbox=inbox,
        outbox=outbox, handlers={CaseReceived: handler},
        clock=SystemClock(), deps=None, dead_letters=no_exchange, batch_size=1, workers=1,
    )  # fmt: skip
    same_case = uuid4()
    events = [_event().model_copy(update={"case_id": same_case}) for _ in range(3)]
    waiting = [
        asyncio.create_task(
            consumer._until_applied(
                make_envelope(e, producer="t", occurred_at=datetime.now(UTC), case_id=same_case),
                e,
            )
        )
        for e in events
    ]
    await asyncio.wait_for(entered.wait(), 5)
    await consumer.stop()
    done, pending = await asyncio.wait(waiting, timeout=5)
    assert not pending
    assert all(t.cancelled() for t in done)


async def _running(relay: OutboxRelay) -> asyncio.Task[None]:
    task = asyncio.create_task(relay.run())
    await asyncio.sleep(0.2)  # its first pass found nothing: it waits
    return task


async def _stopped(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_idle_relay_polls_less_and_less_often(
    engine: AsyncEngine, amqp: AbstractRobustConnection, stack: StackUnderTest
) -> None:
    relay, _, _ = await _staged(
        engine, amqp, stack, 0, batch=50, poll_seconds=0.01, idle_poll_seconds=30.0
    )
    passes = 0
    publish_once = relay.publish_once

    async def counted() -> int:
        nonlocal passes
        passes += 1
        return await publish_once()

    relay.publish_once = counted  # type: ignore[method-assign]
    task = await _running(relay)
    try:
        await asyncio.sleep(1.0)
    finally:
        await _stopped(task)
    # waits of 0.01, 0.02, 0.04 ... s: about 7 passes in 1.2 s where the floor made 120
    assert passes <= 20, passes  # however slow each pass, far from the floor's 120
    assert relay.poll.next_wait > 0.01  # it has backed off


async def test_a_commits_wake_publishes_at_once_however_long_the_idle_wait(
    engine: AsyncEngine, amqp: AbstractRobustConnection, stack: StackUnderTest
) -> None:
    relay, probe, _ = await _staged(  # none staged yet; the probe hears case.received
        engine,
        amqp,
        stack,
        0,
        ["case.received"],
        batch=50,
        poll_seconds=60.0,
        idle_poll_seconds=60.0,
    )
    task = await _running(relay)  # now in a 60 s wait
    try:
        envs = [
            make_envelope(_event(), producer="test", occurred_at=datetime.now(UTC), case_id=None)
            for _ in range(3)
        ]
        async with engine.begin() as conn:
            await write_events(conn, outbox, envs)
        relay.wake()  # what ServiceRuntime.poke_relay does after such a commit

        async def three() -> list[str]:
            got: list[str] = []
            async with probe.iterator() as it:
                async for msg in it:
                    got.append(msg.message_id or "")
                    await msg.ack()
                    if len(got) == 3:
                        return got
            return got

        assert await asyncio.wait_for(three(), timeout=15) == [str(e.id) for e in envs]
    finally:
        await _stopped(task)
