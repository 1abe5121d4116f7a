"""The set-based statements of a staged batch (:mod:`services.escalation.staged`).

Each takes arrays (``= ANY(...)``, ``unnest``): one statement text whatever the batch size,
so asyncpg prepares it once per connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from uuid import UUID

from sqlalchemy import Row, TextClause, any_, bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from services.escalation.fire_context import is_ladder
from services.escalation.tables import deadlines, escalations
from shared.db.batch import array_cast, array_values, insert_rows
from shared.db.types import UUIDT


class StaleBatch(RuntimeError):
    """A claimed row moved between its claim and the batch's write (the batch is undone)."""


@dataclass
class Change:
    """What a batch does to one existing deadline row."""

    values: dict[str, Any] = field(default_factory=dict)
    bump: int = 0
    expect: int | None = None  # the claimed version (the fence); None for a ladder row


_CASES = bindparam("cases", type_=ARRAY(UUIDT))
_TRY_LOCK = text(
    "SELECT k FROM unnest(CAST(:keys AS TEXT[])) AS k"
    " WHERE NOT pg_try_advisory_xact_lock(hashtext(k))"
)
_LADDERS = (
    select(deadlines)
    .where(deadlines.c.case_id == any_(_CASES), is_ladder(), deadlines.c.state == "armed")
    .with_for_update()
)
_ACKS = select(deadlines.c.dispatch_id, deadlines.c.state).where(
    deadlines.c.dispatch_id == any_(bindparam("dispatches", type_=ARRAY(UUIDT))),
    deadlines.c.kind == "acknowledge",
)
_JOIN = text(
    "UPDATE escalation.escalations AS e SET reason = e.reason || v.note"
    " FROM unnest(CAST(:cases AS UUID[]), CAST(:notes AS TEXT[])) AS v(case_id, note)"
    " WHERE e.case_id = v.case_id AND e.clock <> 'report_in' AND e.created_at ="
    " (SELECT max(m.created_at) FROM escalation.escalations AS m"
    "  WHERE m.case_id = v.case_id AND m.clock <> 'report_in')"
)


async def lock_cases(conn: AsyncConnection, cases: Sequence[UUID]) -> set[UUID]:
    """Every case's ladder lock (as ``FireContext.lock_case``) that is free, without
    waiting; returns the cases another transaction holds."""
    busy = await conn.execute(_TRY_LOCK, {"keys": [str(c) for c in cases]})
    return {UUID(k) for (k,) in busy}


async def ladder_rows(conn: AsyncConnection, cases: Sequence[UUID]) -> Sequence[Row[Any]]:
    return (await conn.execute(_LADDERS, {"cases": list(cases)})).all()


async def overdue_rows(
    conn: AsyncConnection, cases: Sequence[UUID], kinds: Sequence[str]
) -> Sequence[Row[Any]]:
    stmt = select(deadlines).where(
        deadlines.c.case_id == any_(_CASES),
        deadlines.c.kind.in_(kinds),
        deadlines.c.state == "fired",
    )
    return (await conn.execute(stmt, {"cases": list(cases)})).all()


async def acknowledge_states(
    conn: AsyncConnection, dispatches: Sequence[UUID | None]
) -> dict[UUID, str]:
    ids = [d for d in dispatches if d is not None]
    if not ids:
        return {}
    return {r.dispatch_id: r.state for r in await conn.execute(_ACKS, {"dispatches": ids})}


async def update_rows(conn: AsyncConnection, now: Any, changes: dict[UUID, Change]) -> None:
    """One ``UPDATE ... FROM unnest`` per set of columns; the claimed rows fenced on their
    claimed version. Raises :class:`StaleBatch` when a row did not answer."""
    groups: dict[tuple[tuple[str, ...], bool], list[tuple[UUID, Change]]] = {}
    for deadline_id, change in changes.items():
        key = (tuple(sorted(change.values)), change.expect is not None)
        groups.setdefault(key, []).append((deadline_id, change))
    for (columns, fenced), rows in groups.items():
        params: dict[str, Any] = {
            "ids": [i for i, _ in rows],
            "bump": [c.bump for _, c in rows],
            "expect": [c.expect or 0 for _, c in rows],
        }
        for n, name in enumerate(columns):
            values = [c.values[name] for _, c in rows]
            params[f"c{n}"] = array_values(deadlines.c[name], values)
        done = await conn.execute(_update(columns, fenced), params)
        if done.rowcount != len(rows):
            raise StaleBatch(f"{len(rows) - done.rowcount} of {len(rows)} rows moved")


@cache
def _update(columns: tuple[str, ...], fenced: bool) -> TextClause:
    sets = ", ".join(f'"{name}" = v.c{n}' for n, name in enumerate(columns))
    casts = ", ".join(array_cast(deadlines.c[name], f"c{n}") for n, name in enumerate(columns))
    names = ", ".join(f"c{n}" for n in range(len(columns)))
    fence = " AND d.version = v.expect AND d.state = 'armed'" if fenced else ""
    return text(
        f"UPDATE {deadlines.fullname} AS d SET {sets}, version = d.version + v.bump"
        f" FROM unnest(CAST(:ids AS UUID[]), CAST(:bump AS INTEGER[]),"
        f" CAST(:expect AS INTEGER[]), {casts}) AS v(id, bump, expect, {names})"
        f" WHERE d.deadline_id = v.id{fence}"
    )


async def join_escalations(conn: AsyncConnection, joins: dict[UUID, str]) -> None:
    """Append each case's notes to its latest ladder escalation (as ``_join`` does)."""
    if joins:
        await conn.execute(_JOIN, {"cases": list(joins), "notes": list(joins.values())})


async def insert_all(
    conn: AsyncConnection, new_rows: list[dict[str, Any]], new_escalations: list[dict[str, Any]]
) -> None:
    for table, rows in ((deadlines, new_rows), (escalations, new_escalations)):
        same: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row in rows:
            same.setdefault(tuple(row), []).append(row)
        for group in same.values():
            await insert_rows(conn, table, group)
