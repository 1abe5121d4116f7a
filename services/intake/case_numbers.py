"""Drawing case numbers (see :mod:`shared.domain.case_numbers`) inside intake's transaction.

One sequence, ``intake.case_number_seq``, numbers every case; ``intake.case_number_days``
keeps, per Shanghai day, the sequence value drawn when that day's first case was numbered
(its *base*). A case's number that day is ``nextval - base``: unique (the sequence never
gives a value twice), never reused, in order of drawing, and nobody waits on a counter row
(a sequence is not transactional). The only wait is the first transaction of a day: a second
one inserting the same day waits on the unique index until the first commits, then reads its
base. A base is read only after its row is committed by another transaction or inserted by
this one, so every value drawn after it is larger.

A transaction draws one number per submission up front (:func:`draw`); replays and
duplicates that create no case leave their numbers unused, so a day's numbers may skip
(so do those of a transaction that rolled back, and, at the start of a day, the values that
transactions racing to number its first case drew for a base they did not get).
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.domain.calendar import SHANGHAI
from shared.domain.case_numbers import case_number

_BASE_NEW = text(
    "INSERT INTO intake.case_number_days (day, base) "
    "VALUES (:day, nextval('intake.case_number_seq')) "
    "ON CONFLICT (day) DO NOTHING RETURNING base"
)
_BASE_STORED = text("SELECT base FROM intake.case_number_days WHERE day = :day")
_DRAW = text("SELECT nextval('intake.case_number_seq') FROM generate_series(1, :n)")


def local_day(at: datetime) -> date:
    return at.astimezone(SHANGHAI).date()


async def draw(conn: AsyncConnection, moments: list[datetime]) -> dict[date, list[str]]:
    """One number for each moment, by its Shanghai day; each day's list in drawing order."""
    drawn: dict[date, list[str]] = {}
    for day, n in sorted(Counter(local_day(m) for m in moments).items()):
        base = await conn.scalar(_BASE_STORED, {"day": day})
        if base is None:  # this day's first numbers (unless another transaction races us)
            base = await conn.scalar(_BASE_NEW, {"day": day})
        if base is None:  # it did, and has committed by now
            base = await conn.scalar(_BASE_STORED, {"day": day})
        values = (await conn.execute(_DRAW, {"n": n})).scalars().all()
        drawn[day] = [case_number(day, int(v) - int(base)) for v in sorted(values)]
    return drawn
