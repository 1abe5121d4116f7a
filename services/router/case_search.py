"""The SQL of ``GET /v1/cases``: a key's scope, then the filters, a keyset page and a count.

Scope first, whatever the filters say: a department sees the cases it holds or held a
dispatch of, a supervisor the cases of its area, a channel its own submissions, ops and
admin all. Every filter is an indexed column of ``router.cases`` (router_0007) or the
dispatches' ``(owner_id, case_id)`` index; the page is a keyset on (sort key, case_id).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    exists,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from services.router.tables import cases, dispatches
from shared.auth.keys import ApiKey, Role
from shared.auth.scope import Area
from shared.domain.case_query import CaseFilter, Cursor, Sort, escape_like
from shared.domain.lifecycle import NOT_LIVE

COUNT_CAP = 1_000  # beyond this the total is "at least": counting all would read them all
# The same expression as the index ix_router_cases_deadline (a bound parameter would not
# match it): cases with no open dispatch sort last.
NO_DUE_SQL = "'9999-12-31 00:00:00+00'::timestamptz"
DEADLINE = func.coalesce(cases.c.next_due_at, literal_column(NO_DUE_SQL))


@dataclass(frozen=True)
class Page:
    rows: list[Any]
    next_cursor: str | None
    total: int
    total_capped: bool


def scope(key: ApiKey, area: Area) -> ColumnElement[bool]:
    """The cases ``key`` may list (its area: ``shared.auth.scope.area_of``)."""
    if key.role is Role.DEPARTMENT:
        return _holds(key.owner_id or "", live_only=False)
    if key.role is Role.CHANNEL:
        return cases.c.channel == key.channel if key.channel else false()
    if not area.known:
        return false()
    if area.unlimited:
        return true()
    return area_prefix(area.path or "")


def conditions(f: CaseFilter, *, now: datetime, me: str | None, ref: str | None) -> list[Any]:
    """The filter's conditions (``me``: the key's owner; ``ref``: the phone's pseudonym)."""
    c = cases.c
    found: list[Any] = []
    if f.states:
        found.append(c.state.in_(f.states))
    if f.overdue is not None:
        found.append(c.next_due_at < now if f.overdue else or_(c.next_due_at.is_(None),
                                                                  c.next_due_at >= now))  # fmt: skip
    if f.escalated_to_me:
        found.append(c.escalated_to.contains([me or ""]))
    for column, value in ((c.whistle_open, f.whistle_open), (c.key_person, f.key_person),
                          (c.rebound, f.rebound)):  # fmt: skip
        if value is not None:
            found.append(column.is_(value))
    for column, given in ((c.channel, f.channel), (c.tier, f.tier), (c.urgency, f.urgency)):
        if given is not None:
            found.append(column == given)
    if f.category:
        found.append(or_(c.category == f.category,
                         c.category.like(escape_like(f.category) + ".%", escape="\\")))  # fmt: skip
    if f.owner:
        found.append(_holds(f.owner, live_only=True))
    if f.area:
        found.append(area_prefix(f.area))
    found += _range(c.received_at, f.received.start, f.received.end)
    found += _range(c.closed_at, f.closed.start, f.closed.end)
    if f.text:
        found.append(c.search_text.like(f"%{escape_like(f.text)}%", escape="\\"))
    if f.phone is not None:
        found.append(c.petitioner_ref == ref)
    return found


def _holds(owner: str, *, live_only: bool) -> ColumnElement[bool]:
    d = dispatches.c
    held = [d.case_id == cases.c.case_id, d.owner_id == owner]
    # a department lists what it holds or worked on (returned too), never a dispatch
    # cancelled by a redispatch, which it may never have seen
    held.append(d.state.not_in(NOT_LIVE) if live_only else d.state != "cancelled")
    return exists().where(*held)


def area_prefix(path: str) -> ColumnElement[bool]:
    inside = escape_like(path) + ".%"
    return or_(cases.c.area_path == path, cases.c.area_path.like(inside, escape="\\"))


def _range(column: Any, start: datetime | None, end: datetime | None) -> list[Any]:
    return [cond for cond in (column >= start if start else None,
                              column < end if end else None) if cond is not None]  # fmt: skip


def _sort_key(sort: Sort) -> Any:
    return DEADLINE if sort is Sort.DEADLINE else cases.c.received_at


def _after(cursor: Cursor) -> ColumnElement[bool]:
    key = tuple_(_sort_key(cursor.sort), cases.c.case_id)
    mark = tuple_(literal(cursor.key), literal(cursor.case_id))
    return key > mark if cursor.sort is Sort.DEADLINE else key < mark


def _ordered(query: Select[Any], sort: Sort) -> Select[Any]:
    if sort is Sort.DEADLINE:
        return query.order_by(DEADLINE.asc(), cases.c.case_id.asc())
    return query.order_by(cases.c.received_at.desc(), cases.c.case_id.desc())


async def find(conn: AsyncConnection, f: CaseFilter, where: list[Any]) -> Page:
    """One page of the cases matching ``where`` (scope and filters) and their count."""
    paged = where + ([_after(f.cursor)] if f.cursor else [])
    query = select(cases, DEADLINE.label("sort_deadline")).where(and_(*paged))
    rows = list((await conn.execute(_ordered(query, f.sort).limit(f.limit + 1))).all())
    more = len(rows) > f.limit
    rows = rows[: f.limit]
    last = rows[-1] if rows and more else None
    cursor = None
    if last is not None:
        key = last.sort_deadline if f.sort is Sort.DEADLINE else last.received_at
        cursor = Cursor(f.sort, key, last.case_id).encode()
    counted = select(literal(1)).select_from(cases).where(and_(*where)).limit(COUNT_CAP + 1)
    total = int(await conn.scalar(select(func.count()).select_from(counted.subquery())) or 0)
    return Page(rows, cursor, min(total, COUNT_CAP), total > COUNT_CAP)
