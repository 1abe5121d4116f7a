"""``shaobao dlq``: look at and replay dead letters.

Replay publishes each message back to the events exchange under its event type and
removes it from the dead-letter queue; consumers are idempotent, so a replay of
something already applied changes nothing.
"""

from __future__ import annotations

import asyncio

import aio_pika
import orjson
import typer

from shared.messaging import wire
from shared.messaging.connection import connect_any
from shared.messaging.topology import QueueSpec
from shared.settings import Settings

app = typer.Typer(help="死信队列 (dead letters)", no_args_is_help=True)
SERVICES = ("intake", "router", "escalation", "notifier")


def _queue(service: str) -> str:
    if service not in SERVICES:
        raise typer.BadParameter(f"service 必须是 {', '.join(SERVICES)} 之一")
    return QueueSpec(service, ()).dead_letter_name


@app.command("list")
def list_(
    service: str = typer.Argument(..., help="intake | router | escalation | notifier"),
) -> None:
    """Print each dead letter: id, type and the reason it was refused."""

    async def go() -> int:
        conn = await connect_any(Settings().amqp_urls)
        async with conn:
            channel = await conn.channel()
            queue = await channel.declare_queue(_queue(service), passive=True)
            seen = []
            while (msg := await queue.get(fail=False, no_ack=False)) is not None:
                seen.append(msg)
                raw = (msg.headers or {}).get("x-shaobao-reason", "delivery limit or rejected")
                reason = raw.decode() if isinstance(raw, bytes | bytearray) else str(raw)
                etype = msg.type or _type_of(msg.body)
                try:
                    count: int | str = len(wire.envelopes(msg.body, msg.content_type))
                except orjson.JSONDecodeError:
                    count = "?"
                events = f" ×{count} 个事件" if wire.is_batch(msg.content_type) else ""
                typer.echo(f"{msg.message_id}  {etype}{events}  {reason}")
            for msg in seen:
                await msg.nack(requeue=True)
            return len(seen)

    n = asyncio.run(go())
    typer.echo(f"共 {n} 条死信 ({n} dead letters in {_queue(service)})")


@app.command("replay")
def replay(
    service: str = typer.Argument(..., help="intake | router | escalation | notifier"),
    limit: int = typer.Option(100, min=1, help="at most this many"),
) -> None:
    """Publish dead letters back to the exchange and remove them from the DLQ."""

    async def go() -> int:
        settings = Settings()
        conn = await connect_any(settings.amqp_urls)
        async with conn:
            channel = await conn.channel(publisher_confirms=True)
            exchange = await channel.get_exchange(settings.exchange)
            queue = await channel.declare_queue(_queue(service), passive=True)
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
                    routing_key=msg.type or _type_of(msg.body),
                )
                await msg.ack()
                done += 1
            return done

    typer.echo(f"已重放 {asyncio.run(go())} 条 (replayed)")


def _type_of(body: bytes) -> str:
    try:
        return str(orjson.loads(body).get("type", "unknown"))
    except (orjson.JSONDecodeError, AttributeError):
        return "unparseable"
