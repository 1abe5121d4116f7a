"""The pollers' claims use their partial indexes in a generic plan, whatever the rows.

asyncpg prepares every statement; after five runs PostgreSQL may keep a generic plan,
built without the parameters' values. A predicate bound as ``state = $1`` cannot prove
the partial index's ``state = 'armed'`` there, and the poll reads the whole table on
every pass (it did: 26 ms a scanner poll at 79,000 deadlines). So the predicate is
inline in the statement, and this test plans each claim as PostgreSQL's generic plan
(``plan_cache_mode = force_generic_plan``) and looks for the index in it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import asyncpg
import pytest
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from services.escalation.scanner import due_rows
from services.notifier.worker import claim_due
from shared.clock import OffsetClock, SystemClock, database_now
from tests.support.stack import StackUnderTest

pytestmark = pytest.mark.integration
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _indexes(plan: Any, alias: str) -> set[str]:
    """The indexes the plan reads for the table named ``alias`` (``deliveries``,
    ``deliveries_1``: the table under its own name, not a subquery's alias such as
    ``later``). A Bitmap Index Scan names no alias: it reads for its Bitmap Heap Scan."""
    found: set[str] = set()

    def walk(node: Any, owner: str) -> None:
        if isinstance(node, dict):
            owner = str(node.get("Alias", owner))
            if "Index Name" in node and owner.startswith(alias):
                found.add(node["Index Name"])
            for value in node.values():
                walk(value, owner)
        elif isinstance(node, list):
            for value in node:
                walk(value, owner)

    walk(plan, "")
    return found


async def _generic_plan_indexes(stack: StackUnderTest, stmt: ClauseElement, alias: str) -> set[str]:
    """The indexes ``stmt``'s generic plan reads for ``alias`` (PREPARE, then EXPLAIN
    EXECUTE under ``force_generic_plan``: the plan PostgreSQL keeps once it stops planning
    per run). Sequential scans are off, so the answer is whether an index *can* serve
    the claim, not what the planner prefers on the test's small tables."""
    compiled = cast(
        SQLCompiler,
        stmt.compile(
            dialect=asyncpg_dialect.dialect(),  # type: ignore[no-untyped-call]
            compile_kwargs={"render_postcompile": True},
        ),
    )
    args = ", ".join(_literal(compiled.params[n]) for n in compiled.positiontup or [])
    conn = await asyncpg.connect(stack.raw_database_url)
    try:
        tx = conn.transaction()
        await tx.start()
        try:  # EXPLAIN without ANALYZE runs nothing; the settings end with the rollback
            await conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            await conn.execute("SET LOCAL enable_seqscan = off")
            await conn.execute(f"PREPARE claim AS {compiled}")
            plan = await conn.fetchval(f"EXPLAIN (FORMAT JSON) EXECUTE claim({args})")
            await conn.execute("DEALLOCATE claim")
        finally:
            await tx.rollback()
        return _indexes(json.loads(plan), alias)
    finally:
        await conn.close()


def _literal(value: Any) -> str:
    if isinstance(value, datetime):
        return f"'{value.isoformat()}'"
    if isinstance(value, timedelta):
        return f"'{value.total_seconds()} seconds'"
    if isinstance(value, int):
        return str(value)
    raise TypeError(f"no literal for {value!r}")


async def test_the_deadline_scanner_claims_through_its_partial_index(
    stack: StackUnderTest,
) -> None:
    indexes = await _generic_plan_indexes(stack, due_rows(NOW, 100), "deadlines")
    assert "ix_deadlines_armed_next" in indexes


async def test_the_notifier_claims_due_deliveries_through_its_partial_index(
    stack: StackUnderTest,
) -> None:
    stmt = claim_due(NOW, NOW + timedelta(seconds=30), 50, frozenset())
    assert "ix_deliveries_due" in await _generic_plan_indexes(stack, stmt, "deliveries")


@pytest.mark.parametrize(
    "clock", [SystemClock(), OffsetClock(cast(Any, None))], ids=["system", "test"]
)
async def test_the_notifier_claims_by_the_database_clock_through_its_partial_index(
    stack: StackUnderTest, clock: Any
) -> None:
    """As the worker claims: ``now`` is the database's clock (plus the test offset)."""
    now = database_now(clock)
    stmt = claim_due(now, now + timedelta(seconds=30), 50, frozenset())
    assert "ix_deliveries_due" in await _generic_plan_indexes(stack, stmt, "deliveries")
