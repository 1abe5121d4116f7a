"""Several nodes in one setting, on the real servers: a dead node first in the list is
skipped by the broker connection, the engine and the readiness probe alike (issue 24)."""

from __future__ import annotations

import aio_pika
import pytest
from sqlalchemy import text

from shared.db.engine import make_engine
from shared.messaging.connection import connect_cluster
from shared.runtime import ServiceRuntime
from tests.support.services import free_port
from tests.support.stack import StackUnderTest

pytestmark = pytest.mark.integration


def _dead_first(url: str) -> str:
    """``url`` with a closed port of this machine in front: host,host in libpq's form."""
    head, _, tail = url.partition("@")
    host, _, rest = tail.partition("/")
    return f"{head}@127.0.0.1:{free_port()},{host}/{rest}"


async def test_the_broker_connection_skips_a_dead_node_and_consumes_on_the_next(
    stack: StackUnderTest,
) -> None:
    dead = f"amqp://shaobao:shaobao@127.0.0.1:{free_port()}/{stack.vhost}"
    conn = await connect_cluster(
        [dead, stack.amqp_url], name="test-cluster", heartbeat=5, reconnect_interval=0.1, timeout=5
    )
    try:
        assert conn.url.port != int(dead.rsplit(":", 1)[1].split("/")[0])
        channel = await conn.channel(publisher_confirms=True)
        queue = await channel.declare_queue("", exclusive=True)
        await channel.default_exchange.publish(aio_pika.Message(b"hi"), routing_key=queue.name)
        got = await queue.get(timeout=5)
        assert got is not None and got.body == b"hi"
    finally:
        await conn.close()


async def test_the_engine_and_the_probe_find_the_writable_host_past_a_dead_one(
    stack: StackUnderTest,
) -> None:
    url = _dead_first(stack.database_url) + "?target_session_attrs=read-write"
    settings = stack.settings(service_name="test-multihost", database_url=url)
    engine = make_engine(settings, pool_size=1)
    try:
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT NOT pg_is_in_recovery()")) is True
        runtime = ServiceRuntime(settings, inbox=None, outbox=None, handlers={}, engine=engine)  # type: ignore[arg-type]
        await runtime._probe_database()
        runtime.__dict__["_probe"].drop()
    finally:
        await engine.dispose()
