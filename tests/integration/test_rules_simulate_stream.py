"""``shaobao rules simulate`` reads past cases in bounded batches from real PostgreSQL.

12,345 synthetic cooking-fume cases are stored far in the future (no other test's cases
are received after them) and removed afterwards. Every case has a first routing (生态环境局)
and some a later one (a return): only the first counts as stored.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.router.rules_simulate import stream_cases, tally_cases
from shared.domain.owners import OwnerDirectory
from shared.domain.routing import RuleSet
from shared.domain.rule_simulation import Routing, Tally

pytestmark = pytest.mark.integration
CONFIG = Path(__file__).resolve().parents[2] / "config"
N = 12_345
SINCE = datetime(2100, 1, 1, tzinfo=UTC)
GUANGMING = (
    '{"district": "d01", "street": "d01.s01", "community": "d01.s01.c02",'
    ' "grid": "d01.s01.c02.g01", "compound": "d01.s01.c02.g01.k01"}'
)
STORE = [
    f"""INSERT INTO router.cases (case_id, state, channel, category, title, location, urgency,
                                  received_at, case_number)
        SELECT gen_random_uuid(), 'dispatched', 'hotline_12345', 'environment.cooking_fume',
               'sim', '{GUANGMING}'::jsonb, 'normal',
               '2100-01-01'::timestamptz + make_interval(secs => i), 'SIM' || i
        FROM generate_series(1, {N}) AS i""",
    # a place that no longer reads (levels that disagree): skipped, not a failure
    """UPDATE router.cases SET location = '{"street": "d01.s02", "community": "d01.s01.c02"}'
       WHERE case_number = 'SIM7'""",
    # first routings: 生态环境局 leads, except every 1000th stored under an older file
    """INSERT INTO router.routing_decisions (case_id, decided_at, ruleset_version, decision)
       SELECT case_id, received_at, 'old', jsonb_build_object(
           'lead_owner_id', CASE WHEN substr(case_number, 4)::int % 1000 = 0
                                 THEN 'd01-s01-zfd' ELSE 'd01-sthj' END,
           'co_handler_ids', '[]'::jsonb, 'disputed', false)
       FROM router.cases WHERE received_at >= '2100-01-01'""",
    # a later re-route after a return: not the first routing, not counted
    """INSERT INTO router.routing_decisions (case_id, decided_at, ruleset_version, decision)
       SELECT case_id, received_at, 'old', jsonb_build_object(
           'lead_owner_id', 'd01-xfjy', 'co_handler_ids', '[]'::jsonb, 'disputed', false)
       FROM router.cases WHERE received_at >= '2100-01-01' AND case_number LIKE 'SIM1%'""",
]
REMOVE = [
    """DELETE FROM router.routing_decisions WHERE case_id IN
       (SELECT case_id FROM router.cases WHERE received_at >= '2100-01-01')""",
    "DELETE FROM router.cases WHERE received_at >= '2100-01-01'",
]


@pytest.fixture
async def stored(engine: AsyncEngine) -> AsyncIterator[None]:
    async with engine.begin() as conn:
        for sql in STORE:
            await conn.execute(text(sql))
    yield
    async with engine.begin() as conn:
        for sql in REMOVE:
            await conn.execute(text(sql))


def routings() -> tuple[Routing, Routing]:
    owners = OwnerDirectory.load(CONFIG / "owners.yaml")
    shipped = (CONFIG / "rules.yaml").read_text(encoding="utf-8")
    moved = shipped.replace("    lead: d01-sthj\n", "    lead: d01-cgw\n")
    return Routing(RuleSet.from_text(shipped), owners), Routing(RuleSet.from_text(moved), owners)


async def test_cases_are_read_in_batches_never_all_at_once(
    engine: AsyncEngine, stored: None
) -> None:
    async with engine.begin() as conn:
        sizes = [len(rows) async for rows in stream_cases(conn, SINCE, 1000)]
    assert sum(sizes) == N
    assert max(sizes) == 1000 and len(sizes) == 13


async def test_every_case_is_tallied_against_its_first_routing_with_progress(
    engine: AsyncEngine, stored: None
) -> None:
    tally, said = Tally(examples=3), list[str]()
    current, new = routings()
    async with engine.begin() as conn:
        await tally_cases(conn, tally, current, new, since_at=SINCE, batch=1000,
                          progress=said.append)  # fmt: skip

    assert (tally.cases, tally.skipped, tally.changed) == (N - 1, 1, N - 1)
    assert tally.moves == {("d01-sthj", "d01-cgw"): N - 1}
    assert tally.stored_drifted == N // 1000  # the older file's; the re-routes do not count
    assert tally.without_stored == 0 and len(tally.changes) == 3
    assert said == [f"已读取 10000/{N} 件 (read)"]
