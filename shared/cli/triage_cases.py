"""``shaobao triage train --from-cases``: the labelled examples the system itself holds.

Two sources, within ``--since`` (on the shared clock):

* every human choice of a matter (``router.triage_examples``: a dispatcher's pick, a
  reclassification, a department's return that names the right matter); of several
  choices for one case the latest wins;
* every closed case otherwise (its category stood to the end: the department did the
  work and the petitioner was asked), unless a person chose for it above.

Labels outside the rules' categories (retired codes, ``other``, the reserved
``unclassified``) are left out. Rows are read in batches (a server-side cursor).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import text

from shared.cli.db import shared_now, transaction
from shared.domain.triage_rules import UNCLASSIFIED
from shared.settings import Settings

_ROWS = text(
    """
    WITH human AS (
      SELECT DISTINCT ON (case_id) case_id, text, category
      FROM router.triage_examples WHERE created_at >= :since
      ORDER BY case_id, example_id DESC
    )
    SELECT text, category, 'human' AS source FROM human
    UNION ALL
    SELECT c.title || E'\\n' || coalesce(c.description, ''), c.category, 'closed'
    FROM router.cases c
    WHERE c.state = 'closed' AND c.closed_at >= :since
      AND NOT EXISTS (SELECT 1 FROM human h WHERE h.case_id = c.case_id)
    LIMIT :limit
    """
)


@dataclass
class CaseExamples:
    texts: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    human: int = 0
    closed: int = 0
    skipped: int = 0  # labels outside the categories


async def read_examples(
    settings: Settings, categories: Collection[str], *, since: timedelta, limit: int
) -> CaseExamples:
    known = set(categories) - {UNCLASSIFIED}
    found = CaseExamples()
    async with transaction(settings) as conn:
        since_at = await shared_now(conn, settings) - since
        result = await conn.stream(_ROWS, {"since": since_at, "limit": limit})
        async for batch in result.partitions(1000):
            for body, label, source in batch:
                if label not in known or not body.strip():
                    found.skipped += 1
                    continue
                found.texts.append(body)
                found.labels.append(label)
                found.human += source == "human"
                found.closed += source == "closed"
    return found
