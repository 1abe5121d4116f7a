"""Issue 23 (part B), prevention work on the real stack: grid patrols and their on-site
mediations in the share settled at the root, the risk register (a risk turned into a case
routes like any case), a campaign's coverage, and 回头看 reopening an explained closure as
a rebound. Each test works in a grid of its own (``g`` + random hex under 幸福里's
community), so the counts are this test's alone."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest

from shared.auth.keys import Role
from shared.domain.calendar import SHANGHAI
from tests.e2e.conftest import Keys
from tests.e2e.intake_helpers import XINGFU, case, phone
from tests.support.services import ServiceProcs
from tests.support.stack import StackUnderTest
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e
COMMUNITY_OFFICE = "d01-s01-c01-sq"  # 幸福里社区, area d01.s01.c01
OTHER_OFFICE = "d01-s02-jd"  # 和平街道


def fresh_grid() -> tuple[str, dict[str, str]]:
    code = f"g{secrets.token_hex(3)}"
    where = {"district": "d01", "street": "s01", "community": "c01", "grid": code}
    return f"d01.s01.c01.{code}", where


def today() -> date:
    return datetime.now(UTC).astimezone(SHANGHAI).date()


class Office:
    def __init__(self, http: httpx.AsyncClient, services: ServiceProcs, keys: Keys) -> None:
        self.http, self.services, self.keys = http, services, keys
        self.h: dict[str, dict[str, str]] = {}

    async def setup(self) -> None:
        self.h = {
            "office": await self.keys.make(Role.SUPERVISOR, owner=COMMUNITY_OFFICE),
            "other": await self.keys.make(Role.SUPERVISOR, owner=OTHER_OFFICE),
            "patrol": await self.keys.make(Role.CHANNEL, channel="grid_patrol"),
            "wechat": await self.keys.make(Role.CHANNEL, channel="wechat"),
            "ops": await self.keys.make(Role.OPS),
        }

    def url(self, path: str, service: str = "intake") -> str:
        return self.services.url(service) + path

    async def post(self, path: str, body: Any, who: str, **kw: Any) -> httpx.Response:
        return await self.http.post(self.url(path), json=body, headers=self.h[who] | kw)

    async def get(self, path: str, who: str, **params: Any) -> httpx.Response:
        return await self.http.get(self.url(path), params=params, headers=self.h[who])

    async def worker(self, grid: str) -> str:
        worker_id = f"W{secrets.token_hex(3)}"
        r = await self.http.put(
            self.url(f"/v1/grid-workers/{worker_id}"),
            json={"name": "网格员李", "grid": grid},
            headers=self.h["office"],
        )
        assert r.status_code == 201, r.text
        return worker_id


@pytest.fixture
async def office(services: ServiceProcs, keys: Keys) -> Any:
    async with httpx.AsyncClient(timeout=15) as http:
        o = Office(http, services, keys)
        await o.setup()
        yield o


async def test_a_patrol_with_an_on_site_mediation_counts_in_the_root_settlement_rate(
    office: Office,
) -> None:
    grid, where = fresh_grid()
    worker = await office.worker(grid)
    # A grid_patrol case mediated on the spot: stored closed, never dispatched.
    mediated = case("neighbour.renovation_noise", "楼上装修噪音", where, mediated_on_site=True,
                    mediation_outcome="双方约定施工时间")  # fmt: skip
    r = await office.post("/v1/cases", mediated, "patrol")
    assert r.status_code == 201 and r.json()["status"] == "closed", r.text
    case_id = r.json()["case_id"]
    patrol = {
        "worker_id": worker, "day": today().isoformat(), "households_visited": 12,
        "minutes": 90,
        "findings": [{"text": "楼道堆物", "category": "property.repair"},
                     {"text": "邻里噪音纠纷"}],
        "mediations": [{"outcome": "噪音纠纷当场调解", "case_id": case_id},
                       {"outcome": "停车纠纷当场化解"}],
    }  # fmt: skip
    r = await office.post("/v1/patrols", patrol, "patrol")
    assert r.status_code == 201, r.text
    assert r.json()["grid"] == grid
    again = await office.post("/v1/patrols", patrol, "patrol")
    assert again.status_code == 200 and again.json()["patrol_id"] == r.json()["patrol_id"]
    other = await office.post("/v1/patrols", patrol | {"households_visited": 3}, "patrol")
    assert other.status_code == 409 and "已登记" in other.json()["detail"]
    assert (await office.post("/v1/patrols", patrol, "wechat")).status_code == 403
    assert (await office.post("/v1/patrols", patrol, "other")).status_code == 403

    risk = {"location": where, "description": "电动车楼道充电", "seen_by": worker,
            "seen_on": today().isoformat(), "follow_up_on": today().isoformat()}  # fmt: skip
    first = await office.post("/v1/risks", risk, "patrol", **{"Idempotency-Key": "r1"})
    assert first.status_code == 201, first.text
    replay = await office.post("/v1/risks", risk, "patrol", **{"Idempotency-Key": "r1"})
    assert replay.status_code == 200 and replay.json()["risk_id"] == first.json()["risk_id"]
    closed = await office.post(
        f"/v1/risks/{first.json()['risk_id']}/close", {"outcome": "已劝离"}, "office"
    )
    assert closed.status_code == 200 and closed.json()["state_label"] == "已化解"
    twice = await office.post(
        f"/v1/risks/{first.json()['risk_id']}/close", {"outcome": "x"}, "office"
    )
    assert twice.status_code == 409
    open_risk = risk | {"description": "物业费争议苗头"}
    assert (await office.post("/v1/risks", open_risk, "office")).status_code == 201
    petition = case("property.fee", "物业费上涨", where, petitioner={"phone": phone()})
    assert (await office.post("/v1/cases", petition, "wechat")).status_code == 201

    # Hand count: on-site mediations 2 (the patrol's unlinked one + the mediated case, the
    # linked mediation being that case); risks resolved 1, open 1; petitions 1.
    # Settled 2 + 1 = 3 of matters 3 + 1 + 1 = 5.
    start = datetime.now(UTC) - timedelta(days=1)
    end = datetime.now(UTC) + timedelta(hours=1)
    params = {"from": start.isoformat(), "to": end.isoformat(), "area": grid}
    r = await office.get("/v1/reports/prevention", "office", **params)
    assert r.status_code == 200, r.text
    total = r.json()["total"]
    assert total["mediated_on_site"] == 2
    assert (total["risks_resolved"], total["risks_open"], total["petitions"]) == (1, 1, 1)
    assert (total["settled_at_root"], total["matters"]) == (3, 5)
    assert total["root_settlement_rate"] == 0.6
    assert (total["households_visited"], total["findings"], total["minutes"]) == (12, 2, 90)
    assert r.json()["labels"]["root_settlement_rate"] == "源头化解率"
    assert (await office.get("/v1/reports/prevention", "other", **params)).status_code == 403

    week = (await office.get("/v1/reports/patrols/weekly", "office", area=grid)).json()
    assert week["by_grid"][grid]["patrols"] == 1 and week["labels"]["patrols"] == "巡查次数"
    month = (await office.get("/v1/reports/patrols/monthly", "office", area=grid)).json()
    assert month["total"]["findings_by_category"] == {
        "property.repair": 1,
        "uncategorized": 1,
    }


async def test_a_risk_turned_into_a_case_routes_like_any_case(
    office: Office, services: ServiceProcs
) -> None:
    grid = "d01.s01.c01.g01"
    worker = await office.worker(grid)
    risk = {"location": XINGFU, "category": "public.streetlight", "description": "小区路灯损坏，夜间有摔倒隐患",
            "seen_by": worker, "seen_on": today().isoformat(),
            "follow_up_on": (today() + timedelta(days=3)).isoformat()}  # fmt: skip
    made = await office.post("/v1/risks", risk, "patrol")
    assert made.status_code == 201, made.text
    risk_id = made.json()["risk_id"]
    due = await office.get("/v1/risks", "office", due="true")
    assert risk_id not in {r["risk_id"] for r in due.json()}  # its follow-up is in 3 days
    listed = await office.get("/v1/risks", "office", state="open", limit=1000)
    assert risk_id in {r["risk_id"] for r in listed.json()}
    assert risk_id not in {r["risk_id"] for r in (await office.get("/v1/risks", "other")).json()}
    assert (await office.post(f"/v1/risks/{risk_id}/case", {}, "other")).status_code == 404

    r = await office.post(f"/v1/risks/{risk_id}/case", {}, "office")
    assert r.status_code == 201, r.text
    case_id = r.json()["case"]["case_id"]
    assert r.json()["risk"]["state"] == "case" and r.json()["risk"]["case_id"] == case_id
    again = await office.post(f"/v1/risks/{risk_id}/case", {}, "office")
    assert again.status_code == 200 and again.json()["case"]["case_id"] == case_id

    async def dispatched() -> dict[str, Any] | None:
        c = await office.http.get(
            services.url("router") + f"/v1/cases/{case_id}", headers=office.h["ops"]
        )
        return c.json() if c.status_code == 200 and c.json().get("dispatches") else None

    routed = await eventually(dispatched, what="the risk's case dispatched by the rules")
    assert routed["channel"] == "grid_patrol"
    assert {d["owner_id"] for d in routed["dispatches"] if d["role"] == "lead"} == {"d01-s01-zfd"}
    closed = await office.post(f"/v1/risks/{risk_id}/close", {"outcome": "x"}, "office")
    assert closed.status_code == 409 and "已转诉求" in closed.json()["detail"]


async def test_a_campaigns_coverage_counts_households_visited_in_its_areas_and_period(
    office: Office,
) -> None:
    grid_a, _ = fresh_grid()
    grid_b, _ = fresh_grid()
    wa, wb = await office.worker(grid_a), await office.worker(grid_b)
    campaign_id = f"{today().year}q-heating-{secrets.token_hex(2)}"
    body = {"theme": "供暖", "starts_on": (today() - timedelta(days=5)).isoformat(),
            "ends_on": (today() + timedelta(days=20)).isoformat(),
            "areas": [{"path": grid_a, "households": 100}, {"path": grid_b, "households": 50}]}  # fmt: skip
    put = await office.http.put(
        office.url(f"/v1/campaigns/{campaign_id}"), json=body, headers=office.h["office"]
    )
    assert put.status_code == 201, put.text
    out = await office.http.put(
        office.url(f"/v1/campaigns/{campaign_id}"), json=body, headers=office.h["other"]
    )
    assert out.status_code == 403

    def patrol(worker: str, day: date, households: int) -> dict[str, Any]:
        return {"worker_id": worker, "day": day.isoformat(), "households_visited": households,
                "campaign_id": campaign_id, "findings": [{"text": "暖气不热", "category": "heating"}]}  # fmt: skip

    for worker, day, n in (
        (wa, today(), 40),
        (wa, today() - timedelta(days=1), 30),
        (wa, today() - timedelta(days=9), 25),  # before the campaign: not counted
        (wb, today(), 70),  # more than the 50 to cover: capped
    ):
        r = await office.post("/v1/patrols", patrol(worker, day, n), "patrol")
        assert r.status_code == 201, r.text
    tagged = case("property.repair", "暖气不热", XINGFU, petitioner={"phone": phone()},
                  campaign_id=campaign_id)  # fmt: skip
    assert (await office.post("/v1/cases", tagged, "patrol")).status_code == 201
    unknown = tagged | {"campaign_id": "no-such-campaign"}
    bad = await office.post("/v1/cases", unknown, "patrol")
    assert bad.status_code == 422 and "专项排查" in bad.json()["detail"]

    # Hand count: area A 40 + 30 = 70 of 100; area B 70 capped at 50 of 50 → 120 / 150.
    got = (await office.get(f"/v1/campaigns/{campaign_id}", "office")).json()
    assert [(a["path"], a["visited"], a["covered"]) for a in got["areas"]] == [
        (grid_a, 70, 70),
        (grid_b, 70, 50),
    ]
    assert (got["households_covered"], got["households_to_cover"]) == (120, 150)
    assert got["coverage_rate"] == 0.8
    assert (got["findings"], got["cases"]) == (4, 1)
    assert (await office.get(f"/v1/campaigns/{campaign_id}", "other")).status_code == 404


async def test_a_revisit_that_finds_an_explained_closure_alive_reopens_it_as_a_rebound(
    office: Office, services: ServiceProcs, stack: StackUnderTest, keys: Keys
) -> None:
    who = {"name": "回头看测试", "phone": phone()}
    body = case("policy.implementation", "加装电梯补贴未落实", XINGFU, petitioner=who)
    first = (await office.post("/v1/cases", body, "wechat")).json()
    case_id = first["case_id"]
    await _close_as_explained(office, services, keys, case_id)
    r = await office.post(f"/v1/cases/{case_id}/revisit",
                          {"outcome": "settled", "method": "phone", "note": "x"}, "other")  # fmt: skip
    assert r.status_code == 404
    assert case_id not in {
        d["case_id"] for d in (await office.get("/v1/revisits", "office")).json()
    }
    await _closed_days_ago(stack, case_id, 31)  # arrange: closed a month ago
    due = (await office.get("/v1/revisits", "office", limit=1000)).json()
    assert case_id in {d["case_id"] for d in due}

    visit = {"outcome": "alive", "method": "visit", "note": "补贴仍未到位，居民情绪不满"}
    r = await office.post(f"/v1/cases/{case_id}/revisit", visit, "office")
    assert r.status_code == 201, r.text
    rebound = r.json()["rebound_case_id"]
    assert rebound and rebound != case_id
    again = await office.post(f"/v1/cases/{case_id}/revisit", visit, "office")
    assert again.status_code == 200 and again.json()["rebound_case_id"] == rebound
    other = await office.post(
        f"/v1/cases/{case_id}/revisit", visit | {"outcome": "settled"}, "office"
    )
    assert other.status_code == 409
    assert case_id not in {
        d["case_id"] for d in (await office.get("/v1/revisits", "office")).json()
    }

    async def rebound_on_timeline() -> dict[str, Any] | None:
        c = await office.http.get(
            services.url("router") + f"/v1/cases/{rebound}", headers=office.h["ops"]
        )
        ok = c.status_code == 200 and "回弹件" in c.json()["timeline"][0]["reason"]
        return c.json() if ok else None

    routed = await eventually(rebound_on_timeline, what="the rebound case on the router")
    assert routed["category"] == "policy.implementation" and routed["channel"] == "grid_patrol"


async def _close_as_explained(
    office: Office, services: ServiceProcs, keys: Keys, case_id: str
) -> None:
    router = services.url("router")

    async def dispatched() -> dict[str, Any] | None:
        c = (await office.http.get(f"{router}/v1/cases/{case_id}", headers=office.h["ops"])).json()
        return c if c.get("dispatches") else None

    routed = await eventually(dispatched, what="case dispatched")
    for d in routed["dispatches"]:
        dept = await keys.make(Role.DEPARTMENT, owner=d["owner_id"])
        url = f"{router}/v1/dispatches/{d['dispatch_id']}"
        await office.http.post(f"{url}/acknowledge", headers=dept)
        done = {"outcome": "explained", "summary": "政策暂无资金，已解释"}
        assert (
            await office.http.post(f"{url}/resolve", json=done, headers=dept)
        ).status_code == 200

    async def status(value: str) -> bool:
        r = await office.get(f"/v1/cases/{case_id}", "wechat")
        return bool(r.json()["status"] == value)

    await eventually(lambda: status("resolved"), what="result reported to the channel")
    rating = {"rating": "basically_satisfied", "comment": "理解"}
    assert (await office.post(f"/v1/cases/{case_id}/feedback", rating, "wechat")).status_code == 202
    await eventually(lambda: status("closed"), what="closed as explained")


async def _closed_days_ago(stack: StackUnderTest, case_id: str, days: int) -> None:
    conn = await asyncpg.connect(stack.raw_database_url)
    try:
        await conn.execute(
            "UPDATE intake.cases SET status_at = now() - make_interval(days => $2) "
            "WHERE case_id = $1",
            UUID(case_id),
            days,
        )
    finally:
        await conn.close()
