"""Integration fixtures: a real broker connection per test, on the session's vhost."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aio_pika
import pytest
from aio_pika.abc import AbstractRobustConnection
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db.engine import make_engine
from tests.support.stack import StackUnderTest

pytestmark = pytest.mark.integration


@pytest.fixture
async def amqp(stack: StackUnderTest) -> AsyncIterator[AbstractRobustConnection]:
    conn = await aio_pika.connect_robust(stack.amqp_url)
    yield conn
    await conn.close()


@pytest.fixture
async def engine(stack: StackUnderTest) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(stack.settings(service_name="test"), pool_size=4)
    yield eng
    await eng.dispose()
