"""Which open case a submission is the same matter as (重复件), and which it only resembles.

Linking is decided under a transaction-scoped advisory lock on the petitioner, so two
concurrent submissions of one matter make one case and one link, never two cases.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from uuid import UUID

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.schemas import CaseCreate
from services.intake.tables import case_refs, cases
from shared.domain.intake_rules import (
    OPEN_STATUSES,
    SIMILARITY_CHARS,
    DuplicatePolicy,
    places,
    same_matter,
    suggested_duplicates,
    window_start,
)
from shared.domain.intake_submission import Target, TargetKey


async def advisory_locks(conn: AsyncConnection, keys: list[str]) -> None:
    """Take every lock in ``keys`` until the transaction ends, in one round trip.

    Sorted, so two transactions wanting overlapping sets take them in the same order.
    """
    if keys:
        await conn.execute(_LOCKS, {"keys": sorted(set(keys))})


# Built once; parameters bound per call; one row of arrays per submission, so one
# statement serves a group commit. Each petitioner's own cases of the category are read
# first (OFFSET 0 keeps the subquery apart, through ix_intake_cases_petitioner: a handful
# of rows), then filtered. Left to itself the planner took the compound/time index
# instead: statistics never hold the newest cases (the window's end is past the
# histogram), so "this compound since N days ago" looked like one row and read every
# recent case of the compound: ~900 buffers a submission on the benchmark.
_SAME_PETITIONER = text(
    """
    SELECT t.n, m.case_id, m.status, m.received_at, m.case_number, m.key_person
    FROM unnest(CAST(:refs AS text[]), CAST(:categories AS text[]),
                CAST(:compounds AS text[]), CAST(:sinces AS timestamptz[]))
      WITH ORDINALITY AS t(ref, category, compound, since, n)
    CROSS JOIN LATERAL (
      SELECT mine.case_id, mine.status, mine.received_at, mine.case_number, mine.key_person
      FROM (
        SELECT c.case_id, c.status, c.received_at, c.compound, c.case_number, c.key_person
        FROM intake.cases c
        WHERE c.petitioner_ref = t.ref AND c.category = t.category AND c.received_at >= t.since
        OFFSET 0
      ) mine
      WHERE mine.compound = t.compound AND mine.status = ANY(CAST(:open AS text[]))
      ORDER BY mine.received_at
      LIMIT 1
    ) m
    """
)
# Up to this many characters of candidates are compared on the event loop (~2 ms); more go
# to a worker thread, so a burst of long anonymous texts never holds up other requests.
_IN_LOOP_CHARS = 20_000
_LOCKS = text(
    "SELECT pg_advisory_xact_lock(hashtextextended(k, 0))"
    " FROM unnest(CAST(:keys AS text[])) WITH ORDINALITY AS t(k, n) ORDER BY n"
)


async def named_target(conn: AsyncConnection, body: CaseCreate) -> tuple[Target | None, list[UUID]]:
    """The first open case named in ``related_refs`` that is the same matter (same
    category family and place, :func:`~shared.domain.intake_rules.same_matter`); the
    other open cases named, in order, for a person to confirm."""
    where = places(body.place.model_dump())
    others: list[UUID] = []
    for rel in body.related_refs:
        row = (
            await conn.execute(
                select(
                    cases.c.case_id,
                    cases.c.status,
                    cases.c.received_at,
                    cases.c.category,
                    cases.c.location,
                    cases.c.case_number,
                    cases.c.key_person,
                )
                .join(case_refs, case_refs.c.case_id == cases.c.case_id)
                .where(
                    case_refs.c.channel == rel.channel,
                    case_refs.c.kind == "external_id",
                    case_refs.c.ref == rel.ref,
                    cases.c.status.in_(OPEN_STATUSES),
                )
            )
        ).first()
        if row is None:
            continue
        if same_matter(body.code, where, row.category, places(row.location)):
            target = Target(
                row.case_id, row.status, row.received_at, "related_ref", row.case_number,
                row.key_person,
            )  # fmt: skip
            return target, others
        if row.case_id not in others:
            others.append(row.case_id)
    return None, others


async def same_petitioner_targets(
    conn: AsyncConnection, policy: DuplicatePolicy, keys: list[tuple[TargetKey, datetime]]
) -> dict[tuple[TargetKey, datetime], Target]:
    """For each (petitioner, category, compound) at its submission time, the oldest open
    case of theirs within the window, if any (one statement for all). Keyed by the
    time too: two submissions of one key are two questions (their windows differ)."""
    if not keys or policy.petitioner_window_days == 0:
        return {}
    rows = await conn.execute(
        _SAME_PETITIONER,
        {
            "refs": [k[0] for k, _ in keys],
            "categories": [k[1] for k, _ in keys],
            "compounds": [k[2] for k, _ in keys],
            "sinces": [window_start(now, policy.petitioner_window_days) for _, now in keys],
            "open": list(OPEN_STATUSES),
        },
    )
    return {
        keys[r.n - 1]: Target(
            r.case_id, r.status, r.received_at, "same_petitioner", r.case_number, r.key_person
        )
        for r in rows
    }


async def find_suggestions(
    conn: AsyncConnection,
    *,
    policy: DuplicatePolicy,
    body: CaseCreate,
    compound: str | None,
    now: datetime,
) -> list[tuple[UUID, float]]:
    """Open cases of the same category and compound whose text is similar (anonymous only)."""
    if compound is None:
        return []
    rows = (
        await conn.execute(
            select(cases.c.case_id, cases.c.title, cases.c.description)
            .where(
                cases.c.category == body.code,
                cases.c.compound == compound,
                cases.c.status.in_(OPEN_STATUSES),
                cases.c.received_at >= window_start(now, policy.anonymous_window_days),
            )
            .order_by(cases.c.received_at.desc())
            .limit(policy.max_candidates)
        )
    ).all()
    mine = f"{body.title}\n{body.description}"
    candidates = [(r.case_id, f"{r.title}\n{r.description}") for r in rows]
    compared = sum(min(len(t), SIMILARITY_CHARS) for _, t in candidates)
    if compared < _IN_LOOP_CHARS:
        return suggested_duplicates(mine, candidates, policy)
    return await asyncio.to_thread(suggested_duplicates, mine, candidates, policy)
