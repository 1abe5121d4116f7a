"""The department API on the real stack: return and re-route, ping-pong to a dispute,
progress, extension, resolution with co-handlers, refusals and idempotent retries."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import httpx
import pytest

from shared.auth.keys import Role
from tests.e2e.conftest import Keys
from tests.support.services import ServiceProcs
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e
HERE = {"district": "d01", "street": "s01", "community": "c01", "grid": "g01", "compound": "k01"}


class Desk:
    """A petition office and its departments talking to the running services."""

    def __init__(self, http: httpx.AsyncClient, services: ServiceProcs, keys: Keys) -> None:
        self.http, self.services, self.keys = http, services, keys
        self._dept: dict[str, dict[str, str]] = {}

    async def submit(self, category: str, title: str) -> str:
        channel = await self.keys.make(Role.CHANNEL, channel="grid_app")
        body = {"category": category, "title": title, "description": title, "location": HERE,
                "external_id": f"G-{secrets.token_hex(4)}"}  # fmt: skip
        r = await self.http.post(
            f"{self.services.url('intake')}/v1/cases", json=body, headers=channel
        )
        assert r.status_code == 201, r.text
        return str(r.json()["case_id"])

    async def case(self, case_id: str) -> dict[str, Any]:
        ops = await self.keys.make(Role.OPS)
        r = await self.http.get(f"{self.services.url('router')}/v1/cases/{case_id}", headers=ops)
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def wait_state(self, case_id: str, state: str) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            c = await self.case(case_id)
            return c if c["state"] == state else None

        return await eventually(probe, what=f"case {case_id} in state {state}")

    async def act(self, d: dict[str, Any], action: str, body: dict[str, Any] | None = None,
                  **headers: str) -> httpx.Response:  # fmt: skip
        owner = d["owner_id"]
        if owner not in self._dept:
            self._dept[owner] = await self.keys.make(Role.DEPARTMENT, owner=owner)
        url = f"{self.services.url('router')}/v1/dispatches/{d['dispatch_id']}/{action}"
        return await self.http.post(url, json=body, headers=self._dept[owner] | headers)


@pytest.fixture
async def desk(services: ServiceProcs, keys: Keys) -> Any:
    async with httpx.AsyncClient(timeout=10) as http:
        yield Desk(http, services, keys)


def lead_of(case: dict[str, Any]) -> dict[str, Any]:
    return next(d for d in case["dispatches"] if d["role"] == "lead" and d["state"] != "returned")


async def test_a_lead_return_reroutes_to_the_next_owner_and_a_second_return_is_a_dispute(
    desk: Desk,
) -> None:
    case_id = await desk.submit("environment.cooking_fume", "底商烧烤油烟扰民")
    case = await desk.wait_state(case_id, "dispatched")
    first = lead_of(case)
    assert first["owner_id"] == "d01-sthj"

    r = await desk.act(
        first, "return", {"reason_code": "not_our_jurisdiction", "note": "排放达标，属城管占道经营"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "returned"
    case = await desk.wait_state(case_id, "dispatched")
    second = lead_of(case)
    assert second["owner_id"] != first["owner_id"]
    returned_row = next(t for t in case["timeline"] if t["action"] == "returned")
    assert returned_row["actor"] == "department:d01-sthj"
    assert "非本单位职责" in returned_row["reason"]

    r = await desk.act(
        second, "return", {"reason_code": "needs_other_department", "note": "应由生态环境部门监测"}
    )
    assert r.status_code == 200, r.text
    case = await desk.wait_state(case_id, "disputed")
    disputed = [t for t in case["timeline"] if t["action"] == "disputed"]
    assert disputed and "吹哨" in disputed[-1]["reason"]
    assert len([d for d in case["dispatches"] if d["role"] == "lead"]) == 2  # no third hop


async def test_a_return_without_a_reason_code_is_refused_and_changes_nothing(desk: Desk) -> None:
    case_id = await desk.submit("environment.cooking_fume", "油烟")
    d = lead_of(await desk.wait_state(case_id, "dispatched"))
    r = await desk.act(d, "return", {"note": "不是我们的"})
    assert r.status_code == 422
    assert "reason_code" in {e["field"] for e in r.json()["errors"]}
    bad = await desk.act(d, "return", {"reason_code": "because", "note": "x"})
    assert bad.status_code == 422
    assert lead_of(await desk.case(case_id))["state"] == "pending"


async def test_resolving_the_lead_waits_for_co_handlers_then_asks_for_feedback(desk: Desk) -> None:
    case_id = await desk.submit("property.elevator", "电梯停运")
    case = await desk.wait_state(case_id, "dispatched")
    lead = lead_of(case)
    co = next(d for d in case["dispatches"] if d["role"] == "co_handler")

    assert (await desk.act(lead, "acknowledge")).status_code == 200
    p = await desk.act(lead, "progress", {"note": "已联系外省调配件", "minutes_spent": 45})
    assert p.status_code == 200 and p.json()["state"] == "in_progress"
    assert (await desk.case(case_id))["state"] == "in_progress"

    r = await desk.act(
        lead, "resolve", {"outcome": "resolved", "summary": "配件到货，电梯恢复运行"}
    )
    assert r.status_code == 200 and r.json()["state"] == "resolved"
    assert (await desk.case(case_id))["state"] == "in_progress"  # co-handler has not reported

    assert (await desk.act(co, "acknowledge")).status_code == 200
    assert (
        await desk.act(co, "resolve", {"outcome": "resolved", "summary": "维保检测合格"})
    ).status_code == 200
    case = await desk.wait_state(case_id, "awaiting_feedback")
    actions = [t["action"] for t in case["timeline"]]
    assert actions[-2:] == ["resolve", "request_feedback"]


async def test_a_refused_action_answers_409_with_the_state_and_reason(desk: Desk) -> None:
    case_id = await desk.submit("property.elevator", "电梯停运")
    lead = lead_of(await desk.wait_state(case_id, "dispatched"))
    r = await desk.act(lead, "resolve", {"outcome": "resolved", "summary": "未签收就办结"})
    assert r.status_code == 409
    assert r.json()["state"] == "pending" and r.json()["action"] == "resolve"
    assert r.json()["detail"]
    await desk.act(lead, "acknowledge")
    await desk.act(lead, "progress", {"note": "处理中"})
    late = await desk.act(lead, "return", {"reason_code": "not_our_jurisdiction", "note": "x"})
    assert late.status_code == 409


async def test_an_action_retried_with_the_same_idempotency_key_happens_once(desk: Desk) -> None:
    case_id = await desk.submit("property.elevator", "电梯")
    lead = lead_of(await desk.wait_state(case_id, "dispatched"))
    await desk.act(lead, "acknowledge")
    key = secrets.token_hex(8)
    a = await desk.act(
        lead, "progress", {"note": "第一次上门", "minutes_spent": 30}, **{"Idempotency-Key": key}
    )
    b = await desk.act(
        lead, "progress", {"note": "第一次上门", "minutes_spent": 30}, **{"Idempotency-Key": key}
    )
    assert a.status_code == b.status_code == 200
    assert a.json() == b.json()
    case = await desk.case(case_id)
    assert [t["action"] for t in case["timeline"]].count("progress") == 1
    other = await desk.act(
        lead, "resolve", {"outcome": "resolved", "summary": "x"}, **{"Idempotency-Key": key}
    )
    assert other.status_code == 409


async def test_concurrent_retries_with_one_idempotency_key_all_get_the_first_answer(
    desk: Desk,
) -> None:
    case_id = await desk.submit("property.elevator", "电梯")
    lead = lead_of(await desk.wait_state(case_id, "dispatched"))
    await desk.act(lead, "acknowledge")
    key, body = secrets.token_hex(8), {"note": "并发重试", "minutes_spent": 15}
    answers = await asyncio.gather(
        *(desk.act(lead, "progress", body, **{"Idempotency-Key": key}) for _ in range(20))
    )
    assert [r.status_code for r in answers] == [200] * 20, [r.text[:120] for r in answers]
    assert len({r.text for r in answers}) == 1
    case = await desk.case(case_id)
    assert [t["action"] for t in case["timeline"]].count("progress") == 1

    other = await desk.act(
        lead, "progress", body | {"note": "另一内容"}, **{"Idempotency-Key": key}
    )
    assert other.status_code == 422 and "内容不同" in other.json()["detail"], other.text
    again = await desk.act(lead, "progress", body, **{"Idempotency-Key": key})
    assert again.status_code == 200 and again.text == answers[0].text


async def test_an_extension_request_is_recorded_for_the_supervisor(desk: Desk) -> None:
    case_id = await desk.submit("property.elevator", "电梯")
    lead = lead_of(await desk.wait_state(case_id, "dispatched"))
    await desk.act(lead, "acknowledge")
    r = await desk.act(lead, "extension", {"working_days": 3, "reason": "配件需从外省调货"})
    assert r.status_code == 200 and r.json()["state"] == "acknowledged"
    case = await desk.case(case_id)
    row = next(t for t in case["timeline"] if t["action"] == "extension_requested")
    assert "3 个工作日" in row["reason"]
