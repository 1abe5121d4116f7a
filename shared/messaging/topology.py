"""RabbitMQ topology as data.

One durable topic exchange for domain events (routing key = event type). Each service
has one durable quorum queue bound to the types it handles, with a delivery limit and a
dead-letter exchange behind it; each dead-letter queue is bound by the queue's name.
"""

from __future__ import annotations

from dataclasses import dataclass

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue

from shared.settings import Settings


@dataclass(frozen=True)
class QueueSpec:
    service: str
    bindings: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"shaobao.{self.service}"

    @property
    def dead_letter_name(self) -> str:
        return f"{self.name}.dlq"


async def declare_exchanges(
    channel: AbstractChannel, settings: Settings
) -> tuple[AbstractExchange, AbstractExchange]:
    events = await channel.declare_exchange(
        settings.exchange, aio_pika.ExchangeType.TOPIC, durable=True
    )
    dead = await channel.declare_exchange(
        settings.dead_letter_exchange, aio_pika.ExchangeType.DIRECT, durable=True
    )
    return events, dead


async def declare_queue(
    channel: AbstractChannel, settings: Settings, spec: QueueSpec
) -> AbstractQueue:
    """Declare the service queue, its dead-letter queue and the bindings (idempotent)."""
    events, dead = await declare_exchanges(channel, settings)
    dlq = await channel.declare_queue(
        spec.dead_letter_name, durable=True, arguments={"x-queue-type": "quorum"}
    )
    await dlq.bind(dead, routing_key=spec.name)
    queue = await channel.declare_queue(
        spec.name,
        durable=True,
        arguments={
            "x-queue-type": "quorum",
            "x-delivery-limit": settings.delivery_limit,
            "x-dead-letter-exchange": settings.dead_letter_exchange,
            "x-dead-letter-routing-key": spec.name,
        },
    )
    for key in spec.bindings:
        await queue.bind(events, routing_key=key)
    return queue
