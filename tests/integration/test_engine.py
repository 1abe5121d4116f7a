"""A pooled connection the server has closed is replaced before it is used."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from shared.db.engine import make_engine
from tests.support.stack import StackUnderTest

pytestmark = pytest.mark.integration


async def test_a_connection_the_server_terminated_is_replaced_at_checkout(
    stack: StackUnderTest,
) -> None:
    """As after a PostgreSQL restart: the backend of the pool's one connection is gone,
    and the next transaction runs on a new connection instead of failing."""
    engine = make_engine(stack.settings(service_name="test-engine"), pool_size=1)
    try:
        async with engine.connect() as conn:
            first = await conn.scalar(text("SELECT pg_backend_pid()"))
            driver = (await conn.get_raw_connection()).driver_connection
        assert await stack.fetchval("SELECT pg_terminate_backend($1)", first) is True
        for _ in range(250):  # asyncpg marks it closed once it reads the socket's end
            if driver.is_closed():
                break
            await asyncio.sleep(0.02)
        assert driver.is_closed()
        async with engine.connect() as conn:
            second = await conn.scalar(text("SELECT pg_backend_pid()"))
        assert second != first
    finally:
        await engine.dispose()
