"""How events travel in AMQP messages: one event per message, or a batch of them.

Every message carries events of one routing key (the event type). The relay packs up to
``Settings.publish_batch`` events of a window that share a routing key into one message:
its body is a JSON array of envelopes and its content type is :data:`BATCH_CONTENT_TYPE`,
with the count in the :data:`COUNT_HEADER` header. A lone event is sent as its envelope
alone (``application/json``), as before; consumers accept both.

Why: the broker's cost is per message, not per byte. Six events and eleven queue
deliveries per case cost RabbitMQ about 1.9 ms of CPU per case when each is its own
message (docs/benchmarks.md); packed, the same events are a few messages per window.
The events themselves are unchanged: each keeps its own id, so the inbox still applies
each exactly once, and a consumer that fails one event of a batch sends that event on
alone (see :mod:`shared.messaging.consumer`), never the rest of the batch again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aio_pika
import orjson

BATCH_CONTENT_TYPE = "application/vnd.shaobao.events+json"
SINGLE_CONTENT_TYPE = "application/json"
COUNT_HEADER = "x-shaobao-events"


def pack(bodies: Sequence[bytes]) -> bytes:
    """One batch body from envelope bodies (already JSON; nothing is re-encoded)."""
    return b"[" + b",".join(bodies) + b"]"


def is_batch(content_type: str | None) -> bool:
    return content_type == BATCH_CONTENT_TYPE


def envelopes(body: bytes, content_type: str | None) -> list[dict[str, Any]]:
    """The envelopes a message carries, as dicts (for tools, benchmarks and tests).

    Raises ``orjson.JSONDecodeError`` on a body that is not JSON.
    """
    decoded = orjson.loads(body)
    if is_batch(content_type):
        return [e for e in decoded if isinstance(e, dict)] if isinstance(decoded, list) else []
    return [decoded] if isinstance(decoded, dict) else []


def message(
    body: bytes,
    *,
    message_id: str | None,
    content_type: str | None,
    headers: dict[str, Any],
    type: str | None,
) -> aio_pika.Message:
    """A persistent AMQP message as every publisher of events sends it (the relay; a
    consumer sending one event alone or to its dead-letter queue)."""
    return aio_pika.Message(
        body=body,
        message_id=message_id,
        content_type=content_type,
        headers=headers,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        type=type,
    )
