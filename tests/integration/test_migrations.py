"""The migrations build exactly the tables the code declares."""

from __future__ import annotations

import asyncio
import json
from uuid import uuid4

import asyncpg
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


async def test_a_routing_decision_is_stored_compressed_with_lz4(stack: StackUnderTest) -> None:
    """A decision keeps every rule weighed (about 5 KB); pglz was its insert's main cost."""
    explanation = [{"rule_id": f"rule-{i}", "outcome": "category_mismatch"} for i in range(80)]
    conn = await asyncpg.connect(stack.raw_database_url)
    tx = conn.transaction()
    await tx.start()
    try:  # rolled back: the row stays out of the shared database
        seq = await conn.fetchval(
            "INSERT INTO router.routing_decisions (case_id, decided_at, ruleset_version, decision)"
            " VALUES ($1, now(), 'test', $2::jsonb) RETURNING seq",
            uuid4(),
            json.dumps({"explanation": explanation}),
        )
        method = await conn.fetchval(  # as stored (RETURNING sees the row before TOAST)
            "SELECT pg_column_compression(decision) FROM router.routing_decisions WHERE seq = $1",
            seq,
        )
        assert method == "lz4"
    finally:
        await tx.rollback()
        await conn.close()
