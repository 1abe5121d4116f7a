"""Deferred inserts: rows a transaction writes but never reads back, sent as one statement.

A batch of events (or one department action) can write dozens of append-only rows —
timeline rows, routing decisions. Sent one by one they cost a round trip and a statement
compilation each; deferred, they are grouped by table and inserted together just before
the commit, one array statement per table (:func:`insert_rows`). Within a table the
order they were added is kept (timeline order is insertion order): consecutive rows
naming the same columns share a statement, so server defaults of columns not named
still apply.

A batch of events may hold two events of one case (a backlog: ``case.received`` and
``case.dispatched`` of the same case in one packed message), and the second may read
what the first deferred. So the rows remember the cases they belong to, and the consumer
flushes before it applies an event of a case with rows still pending
(:meth:`Deferred.holds`): within a case, every read sees every earlier write.

A handler may also defer a *call*: its parameters join one array statement of the batch
(e.g. intake's status updates, one ``UPDATE ... FROM unnest`` for the batch), run after
the inserts; the call raises if a row's statement did not apply, and the batch goes to
its second pass, where each event runs its own statement.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, MetaData, Table, TextClause, insert, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import sqltypes

from shared.db.engine import json_dumps

_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]

# A statement over many rows' parameters at once (e.g. one UPDATE ... FROM unnest(...)).
BatchCall = Callable[[AsyncConnection, list[dict[str, Any]]], Awaitable[None]]


@dataclass
class Deferred:
    rows: list[tuple[Table, dict[str, Any], bool]] = field(default_factory=list)
    cases: set[UUID] = field(default_factory=set)  # the cases pending rows belong to
    calls: dict[BatchCall, list[dict[str, Any]]] = field(default_factory=dict)

    def call(self, run: BatchCall, params: dict[str, Any], *, case_id: UUID | None) -> None:
        """Run ``run`` at the flush, once, with the parameters of every call of it (after
        the inserts, in first-call order). ``run`` raises when a row's statement did
        not apply; in a consumer batch that sends the batch to its second pass."""
        self.calls.setdefault(run, []).append(params)
        if case_id is not None:
            self.cases.add(case_id)

    def add(
        self,
        table: Table,
        values: dict[str, Any],
        *,
        ignore_conflicts: bool = False,
        case_id: UUID | None = None,
    ) -> None:
        """``ignore_conflicts``: a row colliding with a unique key is skipped (idempotent).
        ``case_id``: the case the row belongs to, besides a ``case_id`` column of its own."""
        self.rows.append((table, values, ignore_conflicts))
        for case in (case_id, values.get("case_id")):
            if isinstance(case, UUID):
                self.cases.add(case)

    def holds(self, case_id: UUID | None) -> bool:
        """Whether rows of ``case_id`` are waiting (flush before reading that case)."""
        return case_id is not None and case_id in self.cases


async def flush_deferred(conn: AsyncConnection, deferred: Deferred) -> None:
    """Insert every deferred row: per table, one array statement per run of same columns;
    then each deferred call, once with all its parameters."""
    per_table: dict[Table, list[tuple[dict[str, Any], bool]]] = {}
    for table, values, ignore in deferred.rows:
        per_table.setdefault(table, []).append((values, ignore))
    calls = deferred.calls
    deferred.rows, deferred.calls = [], {}
    deferred.cases.clear()
    for table in sorted(per_table, key=_dependency_rank):  # a parent's rows before its children's
        rows = per_table[table]
        run: list[dict[str, Any]] = []
        run_ignore = False
        for values, ignore in rows:
            if run and (values.keys() != run[0].keys() or ignore != run_ignore):
                await _insert(conn, table, run, run_ignore)
                run = []
            run.append(values)
            run_ignore = ignore
        await _insert(conn, table, run, run_ignore)
    for call, params in calls.items():
        await call(conn, params)


def _dependency_rank(table: Table) -> int:
    """Foreign-key order within the table's metadata (``MetaData.sorted_tables``)."""
    rank = _ranks(table.metadata).get(table)
    if rank is None:  # a table defined after the order was first read
        _ranks.cache_clear()
        rank = _ranks(table.metadata)[table]
    return rank


@cache
def _ranks(metadata: MetaData) -> dict[Table, int]:
    return {t: i for i, t in enumerate(metadata.sorted_tables)}


async def _insert(
    conn: AsyncConnection, table: Table, rows: list[dict[str, Any]], ignore: bool
) -> None:
    await insert_rows(conn, table, rows, ignore_conflicts=ignore)


async def insert_rows(
    conn: AsyncConnection,
    table: Table,
    rows: list[dict[str, Any]],
    *,
    ignore_conflicts: bool = False,
) -> None:
    """Insert rows that all name the same columns, as one statement over arrays.

    ``INSERT ... SELECT * FROM unnest(:col1::type1[], ...)``: one prepared statement per
    (table, columns) whatever the number of rows, one execution. ``executemany`` sends and
    binds each row on its own, and a multi-row ``VALUES`` list is a new statement for every
    row count that SQLAlchemy builds and hashes per call. JSON values are encoded here
    with the engine's own serializer, as for a typed insert.
    """
    if not rows:
        return
    columns = list(rows[0])
    if any(isinstance(table.c[n].type, sqltypes.ARRAY) for n in columns):  # unnest flattens
        plain = pg_insert(table).on_conflict_do_nothing() if ignore_conflicts else insert(table)
        await conn.execute(plain, rows)
        return
    stmt = _array_insert(table, tuple(columns), ignore_conflicts)
    params = {
        f"c{i}": array_values(table.c[name], [r[name] for r in rows])
        for i, name in enumerate(columns)
    }
    await conn.execute(stmt, params)


def array_cast(column: ColumnElement[Any], param: str) -> str:
    """``CAST(:param AS <the column's type>[])``: one array parameter for many rows of
    ``column`` (for ``unnest`` in an array statement)."""
    return f"CAST(:{param} AS {column.type.compile(dialect=_DIALECT)}[])"


def array_values(column: ColumnElement[Any], values: list[Any]) -> list[Any]:
    """``values`` as an :func:`array_cast` parameter of ``column`` takes them: a JSON
    column's encoded with the engine's own serializer, as a typed statement would (None
    stays SQL NULL)."""
    if isinstance(column.type, sqltypes.JSON):
        return [None if v is None else json_dumps(v) for v in values]
    return values


@cache
def _array_insert(table: Table, columns: tuple[str, ...], ignore_conflicts: bool) -> TextClause:
    casts = ", ".join(array_cast(table.c[name], f"c{i}") for i, name in enumerate(columns))
    names = ", ".join(f'"{name}"' for name in columns)
    cols = ", ".join(f"c{i}" for i in range(len(columns)))
    # WITH ORDINALITY ... ORDER BY: rows (and their identity values) in the order given
    sql = (
        f"INSERT INTO {table.fullname} ({names}) SELECT {cols}"
        f" FROM unnest({casts}) WITH ORDINALITY AS t({cols}, n) ORDER BY n"
    )
    if ignore_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    return text(sql)
