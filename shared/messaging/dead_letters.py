"""Dead letters (死信): look at them and replay them, for the command line and ops' API.

A service's dead-letter queue holds what its consumer refused for good (a poison message,
or past the delivery limit). :func:`look` reads up to ``limit`` of them and puts every one
back (nothing is lost by looking); :func:`replay` publishes up to ``limit`` back to the
events exchange under their event type, with publisher confirms, and only then removes
each from the dead-letter queue. Consumers are idempotent, so replaying something already
applied changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aio_pika
import orjson

from shared.messaging import wire
from shared.messaging.connection import connect_any
from shared.messaging.topology import QueueSpec

SERVICES = ("intake", "router", "escalation", "notifier")


@dataclass(frozen=True)
class DeadLetter:
    message_id: str | None
    event_type: str
    events: int | None  # a batch's event count (None: unreadable)
    reason: str


def queue_of(service: str) -> str:
    if service not in SERVICES:
        raise ValueError(f"service 必须是 {', '.join(SERVICES)} 之一 (unknown service)")
    return QueueSpec(service, ()).dead_letter_name


async def look(urls: Sequence[str], service: str, *, limit: int = 500) -> list[DeadLetter]:
    name = queue_of(service)
    conn = await connect_any(urls)  # the first broker node that answers
    async with conn:
        channel = await conn.channel()
        queue = await channel.declare_queue(name, passive=True)
        held: list[aio_pika.abc.AbstractIncomingMessage] = []
        while len(held) < limit and (msg := await queue.get(fail=False, no_ack=False)):
            held.append(msg)
        found = [_describe(m) for m in held]
        for msg in held:
            await msg.nack(requeue=True)
    return found


async def replay(urls: Sequence[str], exchange_name: str, service: str, *, limit: int = 100) -> int:
    name = queue_of(service)
    conn = await connect_any(urls)  # the first broker node that answers
    async with conn:
        channel = await conn.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(exchange_name)
        queue = await channel.declare_queue(name, passive=True)
        done = 0
        while done < limit and (msg := await queue.get(fail=False, no_ack=False)) is not None:
            headers = {k: v for k, v in (msg.headers or {}).items() if not k.startswith("x-")}
            await exchange.publish(
                aio_pika.Message(
                    msg.body,
                    headers=headers,
                    message_id=msg.message_id,
                    content_type=msg.content_type,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    type=msg.type,
                ),
                routing_key=msg.type or type_of(msg.body),
            )
            await msg.ack()
            done += 1
    return done


def _describe(msg: aio_pika.abc.AbstractIncomingMessage) -> DeadLetter:
    raw = (msg.headers or {}).get("x-shaobao-reason", "delivery limit or rejected")
    reason = raw.decode() if isinstance(raw, bytes | bytearray) else str(raw)
    try:
        count: int | None = len(wire.envelopes(msg.body, msg.content_type))
    except (orjson.JSONDecodeError, ValueError, TypeError):
        count = None
    return DeadLetter(msg.message_id, msg.type or type_of(msg.body), count, reason)


def type_of(body: bytes) -> str:
    try:
        return str(orjson.loads(body).get("type", "unknown"))
    except (orjson.JSONDecodeError, AttributeError):
        return "unparseable"
