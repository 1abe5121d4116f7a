"""The rating step on the real stack: satisfied closes, unsatisfied reopens for a second
handling led by the community secretary with the original owner, and a case not awaiting
a rating refuses one with 409."""

from __future__ import annotations

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
ENV_OWNER, SECRETARY = "d01-sthj", "d01-s01-c01-sq"  # 生态环境 leads cooking fumes; 社区书记


class Petition:
    """One cooking-fume case through intake and the router, as a channel and a department."""

    def __init__(self, http: httpx.AsyncClient, services: ServiceProcs, keys: Keys) -> None:
        self.http, self.services, self.keys = http, services, keys
        self.case_id = ""

    async def submit(self) -> None:
        self.channel = await self.keys.make(Role.CHANNEL, channel="wechat")
        self.ops = await self.keys.make(Role.OPS)
        body = {"category": "environment.cooking_fume", "title": "餐馆油烟直排",
                "description": "楼下餐馆油烟直排进窗户。", "location": HERE,
                "external_id": f"fb-{secrets.token_hex(6)}"}  # fmt: skip
        r = await self.http.post(self.url("intake", "/v1/cases"), json=body, headers=self.channel)
        assert r.status_code == 201, r.text
        self.case_id = r.json()["case_id"]

    def url(self, service: str, path: str) -> str:
        return f"{self.services.url(service)}{path}"

    async def case(self) -> dict[str, Any]:
        r = await self.http.get(self.url("router", f"/v1/cases/{self.case_id}"), headers=self.ops)
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def wait(self, check: Any, what: str) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            c = await self.case()
            return c if check(c) else None

        return await eventually(probe, timeout=30, what=what)

    async def resolve(self) -> None:
        case = await self.wait(lambda c: c["dispatches"], "dispatched")
        lead = next(d for d in case["dispatches"] if d["role"] == "lead")
        dept = await self.keys.make(Role.DEPARTMENT, owner=lead["owner_id"])
        base = self.url("router", f"/v1/dispatches/{lead['dispatch_id']}")
        assert (await self.http.post(f"{base}/acknowledge", headers=dept)).status_code == 200
        body = {"outcome": "resolved", "summary": "已责令安装油烟净化器"}
        r = await self.http.post(f"{base}/resolve", json=body, headers=dept)
        assert r.status_code == 200, r.text
        await self.wait_intake("resolved")

    async def intake_status(self) -> str:
        r = await self.http.get(
            self.url("intake", f"/v1/cases/{self.case_id}"), headers=self.channel
        )
        return str(r.json()["status"])

    async def wait_intake(self, status: str) -> None:
        async def probe() -> bool:
            return await self.intake_status() == status

        await eventually(probe, timeout=30, what=f"intake status {status}")

    async def rate(self, rating: str, comment: str = "") -> httpx.Response:
        return await self.http.post(
            self.url("intake", f"/v1/cases/{self.case_id}/feedback"),
            json={"rating": rating, "comment": comment},
            headers=self.channel,
        )


@pytest.fixture
async def petition(services: ServiceProcs, keys: Keys) -> Any:
    async with httpx.AsyncClient(timeout=10) as http:
        p = Petition(http, services, keys)
        await p.submit()
        yield p


async def test_unsatisfied_rating_reopens_for_a_second_handling_led_by_the_community_secretary(
    petition: Petition,
) -> None:
    await petition.resolve()
    r = await petition.rate("unsatisfied", "油烟依旧")
    assert r.status_code == 202, r.text
    again = await petition.rate("satisfied")
    assert again.status_code == 409 and "已评价" in again.json()["detail"]

    case = await petition.wait(
        lambda c: c["state"] == "dispatched" and len(c["dispatches"]) == 3,
        "second handling dispatched",
    )
    new = [d for d in case["dispatches"] if d["state"] == "pending"]
    assert sorted((d["owner_id"], d["role"]) for d in new) == [
        (SECRETARY, "lead"),
        (ENV_OWNER, "co_handler"),
    ]
    actions = [t["action"] for t in case["timeline"]]
    assert actions.index("reopened") < len(actions) - 1 and actions[-1] == "dispatched"
    await petition.wait_intake("dispatched")


async def test_satisfied_rating_closes_the_case_with_the_outcome_and_rating(
    petition: Petition,
) -> None:
    await petition.resolve()
    r = await petition.rate("basically_satisfied")
    assert r.status_code == 202, r.text
    case = await petition.wait(lambda c: c["state"] == "closed", "case closed")
    assert case["close_kind"] == "resolved"
    closed = next(t for t in case["timeline"] if t["action"] == "closed")
    assert "基本满意" in closed["reason"]
    await petition.wait_intake("closed")
    late = await petition.rate("unsatisfied")
    assert late.status_code == 409 and "已结案" in late.json()["detail"]


async def test_a_rating_before_the_result_is_refused_with_409_and_a_reason(
    petition: Petition, keys: Keys
) -> None:
    await petition.wait(lambda c: c["dispatches"], "dispatched")
    r = await petition.rate("satisfied")
    assert r.status_code == 409 and "尚未办结" in r.json()["detail"]
    other = await keys.make(Role.CHANNEL, channel="grid_app")
    r = await petition.http.post(
        petition.url("intake", f"/v1/cases/{petition.case_id}/feedback"),
        json={"rating": "satisfied"},
        headers=other,
    )
    assert r.status_code == 404


async def test_a_comment_over_500_characters_is_rejected(petition: Petition) -> None:
    r = await petition.rate("satisfied", "长" * 501)
    assert r.status_code == 422
