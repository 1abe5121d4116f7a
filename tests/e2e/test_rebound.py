"""Hidden inventory (隐形库存): a petition that comes back within six months of an
explained closure is flagged as a rebound and linked to that closure."""

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


async def test_a_petition_after_an_explained_closure_is_flagged_as_a_rebound(
    services: ServiceProcs, keys: Keys
) -> None:
    channel = await keys.make(Role.CHANNEL, channel="wechat")
    ops = await keys.make(Role.OPS)
    who = {"name": "回弹测试", "phone": f"136{secrets.randbelow(10**8):08d}"}
    body = {"category": "policy.implementation", "title": "加装电梯补贴未落实",
            "description": "补贴政策未兑现", "location": HERE, "petitioner": who}  # fmt: skip
    intake, router = services.url("intake"), services.url("router")
    async with httpx.AsyncClient(timeout=10) as http:
        first = (await http.post(f"{intake}/v1/cases", json=body, headers=channel)).json()
        assert first["rebound_of"] is None

        async def dispatched() -> dict[str, Any] | None:
            c = (await http.get(f"{router}/v1/cases/{first['case_id']}", headers=ops)).json()
            return c if c.get("dispatches") else None

        case = await eventually(dispatched, what="first case dispatched")
        for d in case["dispatches"]:
            dept = await keys.make(Role.DEPARTMENT, owner=d["owner_id"])
            url = f"{router}/v1/dispatches/{d['dispatch_id']}"
            await http.post(f"{url}/acknowledge", headers=dept)
            done = {"outcome": "explained", "summary": "政策暂无资金，已解释"}
            assert (await http.post(f"{url}/resolve", json=done, headers=dept)).status_code == 200

        async def status(value: str) -> bool:
            r = await http.get(f"{intake}/v1/cases/{first['case_id']}", headers=channel)
            return bool(r.json()["status"] == value)

        await eventually(lambda: status("resolved"), what="result reported to the channel")
        rating = {"rating": "basically_satisfied", "comment": "理解"}
        fb = await http.post(
            f"{intake}/v1/cases/{first['case_id']}/feedback", json=rating, headers=channel
        )
        assert fb.status_code == 202, fb.text
        await eventually(lambda: status("closed"), what="closed as explained")

        again = (
            await http.post(
                f"{intake}/v1/cases", json=body | {"title": "补贴还是没有"}, headers=channel
            )
        ).json()
        assert again["rebound_of"] == first["case_id"]
        assert again["duplicate_of"] is None and again["case_id"] != first["case_id"]

        async def on_timeline() -> bool:
            c = await http.get(f"{router}/v1/cases/{again['case_id']}", headers=ops)
            return c.status_code == 200 and "回弹件" in c.json()["timeline"][0]["reason"]

        await eventually(on_timeline, what="rebound named on the router timeline")
