"""A publish is done when the broker confirms it, within a bound, or it has failed.

Two ways a publisher confirm never comes, both seen on a cluster (issue 24):

- The connection is lost while the confirm is pending. aiormq rejects every pending
  future of the connection with the reason it closed; when it gave up on a silent node
  (SIGSTOP, a cut network: "connection was stuck") that reason is a bare
  ``asyncio.CancelledError``. Awaited as is, it reads as "this task is being cancelled":
  the outbox relay re-raised it and its task ended silently, leaving every later event
  in the outbox while the connection itself had long moved to another node.
- The connection stays up but nothing answers the publish (a queue without a quorum,
  a broker blocking publishers on a resource alarm).

:func:`publish_confirmed` turns both into :class:`PublishNotConfirmed`, an ordinary
error: the caller sends the message again later. A real cancellation of the caller still
propagates. Sending again may deliver a message twice (its first copy may have been
routed before the connection was lost); every consumer is idempotent through its inbox.
"""

from __future__ import annotations

import asyncio

import aio_pika
from aio_pika.abc import AbstractExchange


class PublishNotConfirmed(Exception):
    """The broker did not confirm a publish (connection lost, or no answer in time)."""


def cancelled_from_outside() -> bool:
    """Whether the current task itself is being cancelled (not merely handed a
    ``CancelledError`` by a future it awaited)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def publish_confirmed(
    exchange: AbstractExchange,
    message: aio_pika.Message,
    *,
    routing_key: str,
    timeout: float,
) -> None:
    """Publish and wait for the confirm, at most ``timeout`` seconds.

    Raises :class:`PublishNotConfirmed` when the confirm does not come; the message may
    or may not have been routed."""
    try:
        async with asyncio.timeout(timeout):
            await exchange.publish(message, routing_key=routing_key)
    except TimeoutError as exc:
        raise PublishNotConfirmed(f"no publisher confirm within {timeout} s") from exc
    except asyncio.CancelledError as exc:
        if cancelled_from_outside():
            raise
        raise PublishNotConfirmed("connection lost before the publisher confirm") from exc
