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
from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass
class Deferred:
    rows: list[tuple[Table, dict[str, Any]]] = field(default_factory=list)

    def add(self, table: Table, values: dict[str, Any]) -> None:
        self.rows.append((table, values))

    def __len__(self) -> int:
        return len(self.rows)


async def flush_deferred(conn: AsyncConnection, deferred: Deferred) -> None:
    """Insert every deferred row: per table, one multi-row statement per run of same columns."""
    per_table: dict[Table, list[dict[str, Any]]] = {}
    for table, values in deferred.rows:
        per_table.setdefault(table, []).append(values)
    deferred.rows.clear()
    for table, rows in per_table.items():
        run: list[dict[str, Any]] = []
        for values in rows:
            if run and values.keys() != run[0].keys():
                await conn.execute(insert(table), run)
                run = []
            run.append(values)
        await conn.execute(insert(table), run)
