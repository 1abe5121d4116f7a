"""A publish waits for its confirm within a bound, and a lost connection is an error,
not a cancellation (shared/messaging/confirm.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import aio_pika
import pytest

from shared.messaging.confirm import PublishNotConfirmed, publish_confirmed
from shared.messaging.relay import OutboxRelay


class FakeExchange:
    """An exchange whose publish waits on a confirm future the test settles."""

    def __init__(self) -> None:
        self.confirm: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.published = asyncio.Event()

    async def publish(self, message: aio_pika.Message, routing_key: str) -> None:
        self.published.set()
        await self.confirm


async def _publish(exchange: FakeExchange, timeout: float = 5.0) -> None:
    x: Any = exchange
    await publish_confirmed(x, aio_pika.Message(b"{}"), routing_key="k", timeout=timeout)


async def test_a_confirm_future_rejected_with_cancelled_error_is_a_failed_publish() -> None:
    """What aiormq does to every pending confirm when it drops a silent ("stuck") node."""
    exchange = FakeExchange()
    task = asyncio.create_task(_publish(exchange))
    await exchange.published.wait()
    exchange.confirm.set_exception(asyncio.CancelledError())
    with pytest.raises(PublishNotConfirmed, match="connection lost"):
        await task


async def test_a_confirm_that_never_comes_fails_the_publish_after_the_timeout() -> None:
    exchange = FakeExchange()
    with pytest.raises(PublishNotConfirmed, match=r"within 0\.05 s"):
        await _publish(exchange, timeout=0.05)


async def test_cancelling_the_publisher_still_cancels_it() -> None:
    exchange = FakeExchange()
    task = asyncio.create_task(_publish(exchange))
    await exchange.published.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()


async def test_a_confirmed_publish_returns() -> None:
    exchange = FakeExchange()
    exchange.confirm.set_result(None)
    await _publish(exchange)


async def test_the_relay_loop_outlives_a_cancelled_error_it_did_not_ask_for() -> None:
    """The relay's task ended on the first such error: the outbox stopped for good."""
    calls: list[int] = []
    second = asyncio.Event()

    async def publish_once() -> int:
        calls.append(1)
        if len(calls) == 1:
            raise asyncio.CancelledError()  # handed over by a closed connection
        second.set()
        return 0

    relay = OutboxRelay(None, None, None, batch=10, poll_seconds=0.01)  # type: ignore[arg-type]
    relay.publish_once = publish_once  # type: ignore[method-assign]
    task = asyncio.create_task(relay.run())
    try:
        await asyncio.wait_for(second.wait(), timeout=5)
        assert not task.done()
    finally:
        task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
