"""The migrations build exactly the tables the code declares."""

from __future__ import annotations

import asyncio

import pytest
from alembic import command

from shared.db.migrate import SCHEMAS, alembic_config
from tests.support.stack import StackUnderTest

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("schema", list(SCHEMAS))
async def test_migrations_match_the_table_definitions(stack: StackUnderTest, schema: str) -> None:
    await asyncio.to_thread(command.check, alembic_config(schema, stack.database_url))


async def test_migrating_twice_is_harmless(stack: StackUnderTest) -> None:
    from shared.db.migrate import migrate_all

    await asyncio.to_thread(migrate_all, stack.database_url)
