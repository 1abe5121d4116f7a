"""Fixtures shared by the integration and end-to-end tiers."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

from shared.db.migrate import migrate_all_async
from tests.support.stack import StackUnderTest, create_stack, drop_stack

# The suite runs as environment "test", the only one that accepts the built-in (public)
# secrets of shared/settings.py; the processes it starts get it from StackUnderTest.env().
os.environ["SHAOBAO_ENVIRONMENT"] = "test"


@pytest.fixture(scope="session")
async def stack() -> AsyncIterator[StackUnderTest]:
    """A fresh, migrated database and an empty vhost on the real servers, for the session."""
    s = await create_stack()
    await migrate_all_async(s.database_url)
    yield s
    await drop_stack(s)
