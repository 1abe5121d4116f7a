"""A broker node that stops answering without closing its sockets (SIGSTOP, a network
cut), played by a paused TCP proxy in front of the session's RabbitMQ (issue 24).

The cluster connection is given the proxy first and the broker itself second, as two
nodes: when the "node" behind the proxy goes silent, aiormq gives up on it after three
heartbeats and the robust connection moves to the next URL. What these tests hold is
what the services need on top of that: the outbox relay goes on publishing, on the next
node, every event whose confirm was lost, and never waits for a confirm unbounded.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from uuid import UUID, uuid4

import aio_pika
import pytest
from aio_pika.abc import AbstractExchange, AbstractQueue, AbstractRobustConnection
from sqlalchemy import MetaData, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from yarl import URL

from shared.contracts.envelope import make_envelope
from shared.contracts.events import CaseReceived, LocationData
from shared.db.outbox import outbox_table, write_events
from shared.messaging.confirm import PublishNotConfirmed
from shared.messaging.connection import ClusterConnection, connect_cluster
from shared.messaging.relay import OutboxRelay
from shared.messaging.topology import declare_exchanges
from tests.support.pausable_proxy import PausableProxy
from tests.support.stack import StackUnderTest
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

private = MetaData(schema="paused_node_test")
outbox = outbox_table(private)


@pytest.fixture(autouse=True)
async def _private_outbox(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("CREATE SCHEMA IF NOT EXISTS paused_node_test"))
        await conn.run_sync(private.create_all)
        await conn.execute(text("DELETE FROM paused_node_test.outbox"))


@pytest.fixture
async def proxy(stack: StackUnderTest) -> AsyncIterator[PausableProxy]:
    broker = URL(stack.amqp_url)
    assert broker.host is not None and broker.port is not None
    p = PausableProxy(broker.host, broker.port)
    await p.start()
    yield p
    await p.close()


async def _connect(
    stack: StackUnderTest, proxy: PausableProxy, *, heartbeat: int
) -> ClusterConnection:
    """The proxy's "node" first (where the connection lands), the broker itself next."""
    via_proxy = str(URL(stack.amqp_url).with_port(proxy.port))
    conn = await connect_cluster(
        [via_proxy, stack.amqp_url],
        name="test-paused-node",
        heartbeat=heartbeat,
        reconnect_interval=0.2,
        timeout=2,
    )
    assert conn.url.port == proxy.port
    return conn


async def _stage(engine: AsyncEngine, n: int) -> set[UUID]:
    envs = [
        make_envelope(e, producer="test", occurred_at=datetime.now(UTC), case_id=e.case_id)
        for e in (_event() for _ in range(n))
    ]
    async with engine.begin() as conn:
        await write_events(conn, outbox, envs)
    return {e.id for e in envs}


def _event() -> CaseReceived:
    return CaseReceived(
        case_id=uuid4(),
        channel="hotline_12345",
        category="property.elevator",
        title="电梯停运",
        description="d",
        location=LocationData(compound="k01"),
    )


async def _unsent(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        q = select(outbox.c.seq).where(outbox.c.published_at.is_(None))
        return len((await conn.execute(q)).all())


async def _probe(amqp: AbstractRobustConnection, stack: StackUnderTest) -> AbstractQueue:
    """A queue on the broker's own connection that gets every ``case.received``."""
    channel = await amqp.channel()
    events_x, _ = await declare_exchanges(channel, stack.settings())
    probe = await channel.declare_queue(exclusive=True)
    await probe.bind(events_x, routing_key="case.received")
    return probe


async def _received_all(probe: AbstractQueue, got: set[UUID], wanted: set[UUID]) -> bool:
    """Drain ``probe`` into ``got`` (duplicates allowed); whether ``wanted`` all came."""
    while (message := await probe.get(fail=False, timeout=5)) is not None:
        got.add(UUID(message.message_id))
        await message.ack()
    return got >= wanted


async def test_the_relay_sends_on_the_next_node_what_a_paused_node_never_confirmed(
    engine: AsyncEngine,
    amqp: AbstractRobustConnection,
    stack: StackUnderTest,
    proxy: PausableProxy,
) -> None:
    """Before the fix the relay's task ended with the "stuck" connection's CancelledError:
    the connection moved on, the events stayed in the outbox."""
    probe = await _probe(amqp, stack)
    conn = await _connect(stack, proxy, heartbeat=1)  # given up after ~6 s of silence
    channel = await conn.channel(publisher_confirms=True)
    events_x, _ = await declare_exchanges(channel, stack.settings())

    async def exchange() -> AbstractExchange:
        return events_x

    # A confirm timeout longer than the heartbeats': the lost connection fails the window.
    relay = OutboxRelay(engine, outbox, exchange, batch=10, poll_seconds=0.05, confirm_timeout=60)
    running = asyncio.create_task(relay.run())
    try:
        first = await _stage(engine, 1)
        relay.wake()
        await eventually(lambda: _no_unsent(engine), timeout=10, what="first event published")
        proxy.pause()
        rest = await _stage(engine, 25)
        relay.wake()
        await eventually(lambda: _no_unsent(engine), timeout=30, what="published past the pause")
        assert not running.done(), "the relay stopped"
        assert conn.url.port != proxy.port, "the connection never left the paused node"
        got: set[UUID] = set()
        await eventually(
            lambda: _received_all(probe, got, first | rest), timeout=10, what="every event"
        )
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await conn.close()


async def _no_unsent(engine: AsyncEngine) -> bool:
    return await _unsent(engine) == 0


async def test_a_window_whose_confirms_never_come_fails_within_the_timeout(
    engine: AsyncEngine, stack: StackUnderTest, proxy: PausableProxy
) -> None:
    """Heartbeats too slow to notice the silence here: only the confirm timeout bounds it."""
    conn = await _connect(stack, proxy, heartbeat=60)
    try:
        channel = await conn.channel(publisher_confirms=True)
        events_x, _ = await declare_exchanges(channel, stack.settings())

        async def exchange() -> AbstractExchange:
            return events_x

        relay = OutboxRelay(
            engine, outbox, exchange, batch=10, poll_seconds=0.05, confirm_timeout=1
        )
        await _stage(engine, 3)
        proxy.pause()
        started = time.monotonic()
        with pytest.raises(PublishNotConfirmed):
            async with asyncio.timeout(10):  # without a bound: forever
                await relay.publish_once()
        assert time.monotonic() - started < 5
        assert await _unsent(engine) == 3, "a failed window is not marked sent"
        proxy.resume()
        assert await relay.publish_once() == 3
    finally:
        await conn.close()


async def test_a_consumer_on_a_paused_node_is_restored_on_the_next(
    amqp: AbstractRobustConnection, stack: StackUnderTest, proxy: PausableProxy
) -> None:
    queue_name = f"paused-node-{uuid4().hex[:8]}"
    setup = await amqp.channel()
    await setup.declare_queue(queue_name, durable=True)
    conn = await _connect(stack, proxy, heartbeat=1)
    got: asyncio.Queue[bytes] = asyncio.Queue()

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        await got.put(message.body)
        await message.ack()

    try:
        channel = await conn.channel()
        queue = await channel.declare_queue(queue_name, durable=True)
        await queue.consume(on_message)
        proxy.pause()
        await setup.default_exchange.publish(aio_pika.Message(b"after"), routing_key=queue_name)
        assert await asyncio.wait_for(got.get(), timeout=20) == b"after"
        assert conn.url.port != proxy.port
    finally:
        await conn.close()
        await setup.queue_delete(queue_name)
