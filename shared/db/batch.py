"""Deferred inserts: rows a transaction writes but never reads back, sent as one statement.

A batch of events (or one department action) can write dozens of append-only rows —
timeline rows, routing decisions. Sent one by one they cost a round trip and a statement
compilation each; deferred, they are grouped by table and inserted together just before
the commit. Within a table the order they were added is kept (timeline order is
insertion order): consecutive rows naming the same columns share a statement, so server
defaults of columns not named still apply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass
class Deferred:
    rows: list[tuple[Table, dict[str, Any], bool]] = field(default_factory=list)

    def add(self, table: Table, values: dict[str, Any], *, ignore_conflicts: bool = False) -> None:
        """``ignore_conflicts``: a row colliding with a unique key is skipped (idempotent)."""
        self.rows.append((table, values, ignore_conflicts))

    def __len__(self) -> int:
        return len(self.rows)


async def flush_deferred(conn: AsyncConnection, deferred: Deferred) -> None:
    """Insert every deferred row: per table, one multi-row statement per run of same columns."""
    per_table: dict[Table, list[tuple[dict[str, Any], bool]]] = {}
    for table, values, ignore in deferred.rows:
        per_table.setdefault(table, []).append((values, ignore))
    deferred.rows.clear()
    for table, rows in per_table.items():
        run: list[dict[str, Any]] = []
        run_ignore = False
        for values, ignore in rows:
            if run and (values.keys() != run[0].keys() or ignore != run_ignore):
                await _insert(conn, table, run, run_ignore)
                run = []
            run.append(values)
            run_ignore = ignore
        await _insert(conn, table, run, run_ignore)


async def _insert(
    conn: AsyncConnection, table: Table, rows: list[dict[str, Any]], ignore: bool
) -> None:
    stmt = pg_insert(table).on_conflict_do_nothing() if ignore else insert(table)
    await conn.execute(stmt, rows)
