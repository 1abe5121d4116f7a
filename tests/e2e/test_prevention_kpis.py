"""Issue 23 (part B): every target of the plan in the KPI report, checked against a hand
count on a month seeded by hand (March 2026, no holidays; Mon 2 March is day one).

The router's rows are written directly (cases received in March, their dispatches and
timeline, one older case for the backlog, and last March's cases for the key persons'
repeat rate); intake's prevention rows (a campaign, patrols, risks) go through its API.
All of it lies in a grid of its own, so the counts are this test's alone. The router is
restarted with intake's URL, which it needs to read the prevention counts."""

from __future__ import annotations

import re
import secrets
import signal
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import orjson
import pytest

from shared.auth.keys import Role
from shared.domain.calendar import SHANGHAI
from tests.e2e.conftest import Keys
from tests.support.services import ServiceProcs
from tests.support.stack import StackUnderTest

pytestmark = pytest.mark.e2e
OFFICE = "d01-s01-c01-sq"


def t(month: int, day: int, hour: int = 9, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, tzinfo=SHANGHAI)


async def restart_router_with_intake(services: ServiceProcs) -> None:
    if services.env_extra.get("SHAOBAO_CONSOLE_INTAKE_URL") == services.url("intake"):
        return
    services.env_extra["SHAOBAO_CONSOLE_INTAKE_URL"] = services.url("intake")
    services.kill("router", signal.SIGTERM)
    services.start("router")
    await services.wait_ready("router")


class Seed:
    def __init__(self, conn: asyncpg.Connection, grid: str) -> None:
        self.conn, self.grid = conn, grid

    async def case(self, received: datetime, state: str, *, close_kind: str | None = None,
                   tier: str = "simple", channel: str = "wechat", category: str = "property.fee",
                   petitioner: str | None = None, key_person: bool = False,
                   closed: datetime | None = None) -> UUID:  # fmt: skip
        case_id = uuid4()
        location = {"district": "d01", "street": "s01", "community": "c01", "grid": self.grid}
        await self.conn.execute(
            "INSERT INTO router.cases (case_id, state, close_kind, channel, category, title,"
            " location, tier, urgency, petitioner_ref, received_at, key_person, closed_at)"
            " VALUES ($1, $2, $3, $4, $5, '种子', $6::jsonb, $7, 'normal', $8, $9, $10, $11)",
            case_id, state, close_kind, channel, category, orjson.dumps(location).decode(), tier,
            petitioner, received, key_person, closed,
        )  # fmt: skip
        return case_id

    async def dispatch(self, case_id: UUID, owner: str, state: str, created: datetime,
                       ack_due: datetime, resolve_due: datetime, acked: datetime | None = None,
                       resolved: datetime | None = None) -> UUID:  # fmt: skip
        dispatch_id = uuid4()
        await self.conn.execute(
            "INSERT INTO router.dispatches (dispatch_id, case_id, owner_id, role, state,"
            " ruleset_version, policy, acknowledge_due_at, resolve_due_at, acknowledged_at,"
            " resolved_at, created_at, updated_at)"
            " VALUES ($1, $2, $3, 'lead', $4, 'seed', '{}'::jsonb, $5, $6, $7, $8, $9, $9)",
            dispatch_id, case_id, owner, state, ack_due, resolve_due, acked, resolved, created,
        )  # fmt: skip
        return dispatch_id

    async def row(self, case_id: UUID, at: datetime, action: str,
                  detail: dict[str, Any] | None = None, dispatch_id: UUID | None = None) -> None:  # fmt: skip
        await self.conn.execute(
            "INSERT INTO router.timeline (case_id, dispatch_id, at, actor, action, detail)"
            " VALUES ($1, $2, $3, 'seed', $4, $5::jsonb)",
            case_id, dispatch_id, at, action, orjson.dumps(detail).decode() if detail else None,
        )  # fmt: skip


async def seed_router_month(stack: StackUnderTest, grid: str) -> None:
    conn = await asyncpg.connect(stack.raw_database_url)
    s = Seed(conn, grid)
    o1, o2, o3 = (f"seed-{grid}-{n}" for n in (1, 2, 3))
    try:
        # A: Mon 2nd, resolved Wed 4th (2 working days), rated satisfied; ack on time; 90 min
        a = await s.case(t(3, 2), "closed", close_kind="resolved", petitioner="pA", closed=t(3, 5))
        da = await s.dispatch(a, o1, "resolved", t(3, 2), t(3, 3), t(3, 6), t(3, 2, 10), t(3, 4))
        await s.row(a, t(3, 3), "progress", {"minutes_spent": 90}, da)
        await s.row(a, t(3, 4), "resolve")
        await s.row(a, t(3, 5), "closed", {"rating": "satisfied"})
        # B: Tue 3rd, resolved Thu 12th (7 working days), explained, basically satisfied;
        # acknowledged late; a key person's first case this month; 150 min
        b = await s.case(t(3, 3), "closed", close_kind="explained", tier="complex",
                         channel="hotline_12345", petitioner="pK", key_person=True, closed=t(3, 13))  # fmt: skip
        db = await s.dispatch(b, o1, "resolved", t(3, 3), t(3, 4), t(3, 10), t(3, 4, 12), t(3, 12))
        await s.row(b, t(3, 5), "progress", {"minutes_spent": 150}, db)
        await s.row(b, t(3, 12), "resolve")
        await s.row(b, t(3, 13), "closed", {"rating": "basically_satisfied"})
        # C: Wed 4th, the key person again (a repeat), never acknowledged, overdue from the 9th
        c = await s.case(t(3, 4), "dispatched", channel="hotline_12345", petitioner="pK",
                         key_person=True, category="public.streetlight")  # fmt: skip
        await s.dispatch(c, o2, "pending", t(3, 4), t(3, 5), t(3, 9))
        # E: Fri 20th, anonymous, acknowledged on time, overdue from the 27th
        e = await s.case(t(3, 20), "in_progress", category="property.repair")
        await s.dispatch(e, o3, "acknowledged", t(3, 20), t(3, 23), t(3, 27), t(3, 20, 10))
        # D: February's, overdue from 27 Feb, resolved 10 March, closed 11 March
        d = await s.case(
            t(2, 20), "closed", close_kind="resolved", petitioner="pD", closed=t(3, 11)
        )
        await s.dispatch(d, o1, "resolved", t(2, 20), t(2, 23), t(2, 27), t(2, 20, 10), t(3, 10))
        # Last March: the key person twice (one repeat) and another petitioner
        for day, who, flagged in ((5, "pK", True), (6, "pK", True), (7, "p9", False)):
            await s.case(t(3, day, year=2025), "closed", close_kind="resolved", petitioner=who,
                         key_person=flagged, closed=t(3, day + 1, year=2025))  # fmt: skip
    finally:
        await conn.close()


async def seed_intake_month(http: httpx.AsyncClient, intake: str, office: dict[str, str],
                            grid: str) -> None:  # fmt: skip
    worker = f"KW{secrets.token_hex(3)}"
    r = await http.put(f"{intake}/v1/grid-workers/{worker}",
                       json={"name": "网格员王", "grid": grid}, headers=office)  # fmt: skip
    assert r.status_code == 201, r.text
    campaign = {"theme": "物业费", "starts_on": "2026-01-05", "ends_on": "2026-03-31",
                "areas": [{"path": grid, "households": 100}]}  # fmt: skip
    r = await http.put(f"{intake}/v1/campaigns/kpi-{secrets.token_hex(3)}", json=campaign,
                       headers=office)  # fmt: skip
    assert r.status_code == 201, r.text
    for day, households, mediations in (("2026-03-03", 30, 2), ("2026-03-10", 45, 1)):
        patrol = {"worker_id": worker, "day": day, "households_visited": households,
                  "mediations": [{"outcome": f"当场调解 {i}"} for i in range(mediations)]}  # fmt: skip
        r = await http.post(f"{intake}/v1/patrols", json=patrol, headers=office)
        assert r.status_code == 201, r.text
    where = {"district": "d01", "street": "s01", "community": "c01", "grid": grid.rsplit(".", 1)[1]}
    risks = []
    for text in ("楼道堆物", "物业费纠纷苗头"):
        body = {"location": where, "description": text, "seen_by": worker,
                "seen_on": "2026-03-10", "follow_up_on": "2026-03-17"}  # fmt: skip
        r = await http.post(f"{intake}/v1/risks", json=body, headers=office)
        assert r.status_code == 201, r.text
        risks.append(r.json()["risk_id"])
    r = await http.post(f"{intake}/v1/risks/{risks[0]}/close", json={"outcome": "已清理"},
                        headers=office)  # fmt: skip
    assert r.status_code == 200, r.text


async def test_every_target_of_the_plan_is_computed_on_a_seeded_month(
    services: ServiceProcs, keys: Keys, stack: StackUnderTest
) -> None:
    code = f"g{secrets.token_hex(3)}"
    grid = f"d01.s01.c01.{code}"
    await restart_router_with_intake(services)
    await seed_router_month(stack, code)
    office = await keys.make(Role.SUPERVISOR, owner=OFFICE)
    router, intake = services.url("router"), services.url("intake")
    window = {"from": "2026-03-01T00:00:00+08:00", "to": "2026-04-01T00:00:00+08:00", "area": grid}
    async with httpx.AsyncClient(timeout=15) as http:
        await seed_intake_month(http, intake, office, grid)
        r = await http.get(f"{router}/v1/reports/kpis", params=window, headers=office)
        assert r.status_code == 200, r.text
        report = r.json()
        html = await console_page(http, router, office, window)
    total, goals = report["total"], report["targets"]

    def goal(name: str) -> tuple[Any, Any]:
        return goals[name]["value"], goals[name]["met"]

    # 响应率: on time dA, dE; late dB; dC never acknowledged, past due → 2 / 4
    assert goal("response_rate") == (0.5, False)
    assert report["by_tier"]["simple"]["response_rate"] == 0.6667  # dA, dE of dA, dC, dE
    assert report["by_tier"]["complex"]["response_rate"] == 0.0
    assert report["by_channel"]["wechat"]["response_rate"] == 1.0
    assert report["by_channel"]["hotline_12345"]["response_rate"] == 0.0
    owners = report["by_owner"]
    assert [owners[f"seed-{code}-{n}"]["response_rate"] for n in (1, 2, 3)] == [0.5, 0.0, 1.0]
    # 解决率: A resolved, B explained → 1 / 2
    assert goal("resolution_rate") == (0.5, False)
    assert report["by_category"]["property.fee"]["resolution_rate"] == 0.5
    # 满意率: satisfied + basically satisfied → 2 / 2; handling (2 + 7) / 2 = 4.5 ≤ 7
    assert goal("satisfaction_rate") == (1.0, True)
    assert goal("avg_handling_working_days") == (4.5, True)
    # key persons: this March C repeats B → 1 of 3 known; last March 1 of 3 → limit 1/6
    assert goal("key_person_repeat_rate") == (0.3333, False)
    assert report["key_person_repeat_rate_last_year"] == 0.3333
    # no key person of this grid in intake's registry: nothing to convert
    assert goal("key_person_conversion_rate") == (None, None)
    assert report["prevention"]["key_persons"] == {"in_registry": 0, "converted": 0}
    # one campaign by the end of Q1 (one due); coverage (30 + 45) / 100
    assert goal("campaigns_per_year") == (1, True)
    assert goal("household_coverage") == (0.75, False)
    # settled: mediations 2 + 1, one risk resolved = 4 of 4 + one open risk = 5
    assert goal("root_settlement_rate") == (0.8, True)
    assert report["prevention"]["total"]["mediated_on_site"] == 3
    # 积案: D at the start (overdue from 27 Feb, open); C and E at the end
    assert report["backlog"] == {"at_start": 1, "at_end": 2, "change": 1}
    assert total["hours_spent"] == 4.0 and total["minutes_spent"] == 240

    shown = dict(re.findall(r'data-goal="([a-z_]+)">([^<]*)<', html))
    assert shown["satisfaction_rate"] == "✓ 达成" and shown["response_rate"] == "✗ 未达成"
    assert shown["key_person_conversion_rate"] == "— 无数据"
    assert 'data-kpi="backlog_end">2<' in html


async def console_page(http: httpx.AsyncClient, router: str, key: dict[str, str],
                       window: dict[str, str]) -> str:  # fmt: skip
    raw = key["Authorization"].removeprefix("Bearer ")
    r = await http.post(f"{router}/console/login", data={"key": raw, **window})
    assert r.status_code == 303, r.text
    page = await http.get(f"{router}{r.headers['location']}")
    assert page.status_code == 200, page.text
    return page.text
