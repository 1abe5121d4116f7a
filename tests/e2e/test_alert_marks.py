"""An office marks an early warning 已收到 and 已处理 (issue 20), through the API and on the
workbench: three e-bike complaints in one grid of 光明社区 raise the grid's alert; the
community marks it received, then handled with a note; another street's office cannot."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest

from shared.auth.keys import Role
from tests.e2e.conftest import Keys
from tests.e2e.intake_helpers import case, phone
from tests.e2e.workbench_helpers import (
    HAS_CHROMIUM,
    chromium,
    restart_router_with_sources,
    signed_in,
)
from tests.support.services import ServiceProcs
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e
GUANGMING = {"district": "d01", "street": "s01", "community": "c02", "grid": "g01", "compound": "k01"}  # fmt: skip
COMMUNITY, OTHER_STREET = "d01-s01-c02-sq", "d01-s02-jd"  # 光明社区居委会 / 和平街道办事处


async def _raise_alert(services: ServiceProcs, keys: Keys) -> dict[str, Any]:
    channel = await keys.make(Role.CHANNEL, channel="grid_app")
    ops = await keys.make(Role.OPS)
    async with httpx.AsyncClient(timeout=15) as http:
        for i in range(3):
            body = case("fire.ebike_charging", f"{i}号楼楼道充电 {secrets.token_hex(3)}",
                        GUANGMING, petitioner={"phone": phone()})  # fmt: skip
            r = await http.post(f"{services.url('intake')}/v1/cases", json=body, headers=channel)
            assert r.status_code == 201, r.text

        async def raised() -> dict[str, Any] | None:
            r = await http.get(f"{services.url('intake')}/v1/alerts", headers=ops,
                               params={"limit": 500})  # fmt: skip
            rows = [a for a in r.json() if a["place"] == "d01.s01.c02.g01"
                    and a["rule_id"] == "fire-ebike-cluster"]  # fmt: skip
            return rows[0] if rows else None

        return await eventually(raised, what="the grid's e-bike alert")


async def test_an_office_marks_an_alert_received_then_handled(
    services: ServiceProcs, keys: Keys
) -> None:
    alert = await _raise_alert(services, keys)
    url = f"{services.url('intake')}/v1/alerts/{alert['alert_id']}"
    community = await keys.make(Role.SUPERVISOR, owner=COMMUNITY)
    other = await keys.make(Role.SUPERVISOR, owner=OTHER_STREET)
    async with httpx.AsyncClient(timeout=15) as http:
        assert (await http.post(f"{url}/received", headers=other)).status_code == 404
        first = await http.post(f"{url}/received", headers=community)
        assert first.status_code == 200, first.text
        again = await http.post(f"{url}/received", headers=community)
        assert again.json()["received_at"] == first.json()["received_at"]  # the first stands
        empty = await http.post(f"{url}/handled", json={"note": ""}, headers=community)
        assert empty.status_code == 422
        done = await http.post(f"{url}/handled", json={"note": "已组织楼道清理，张贴告示"},
                               headers=community)  # fmt: skip
        assert done.status_code == 200 and done.json()["handled_at"]
        rows = (await http.get(f"{services.url('intake')}/v1/alerts", headers=community)).json()
    mine = next(a for a in rows if a["alert_id"] == alert["alert_id"])["marks"]
    assert [(m["owner_id"], m["note"]) for m in mine] == [(COMMUNITY, "已组织楼道清理，张贴告示")]


@pytest.mark.skipif(not HAS_CHROMIUM, reason="chromium is not installed")
async def test_the_workbench_marks_an_alert(services: ServiceProcs, keys: Keys) -> None:
    await restart_router_with_sources(services)
    alert = await _raise_alert(services, keys)
    street = await keys.make(Role.SUPERVISOR, owner="d01-s01-jd")  # 新华街道: told of it too
    base = services.url("router")
    async with chromium() as browser:
        page = await signed_in(browser, base, street)
        row = page.locator(f"tr[data-alert='{alert['alert_id']}']")
        await row.locator("form.alert-received button").click()
        await page.wait_for_selector("p.done:has-text('已收到')")
        row = page.locator(f"tr[data-alert='{alert['alert_id']}']")
        await row.locator("form.alert-handled input[name=note]").fill("已通知消防上门检查")
        await row.locator("form.alert-handled button").click()
        await page.wait_for_selector("p.done:has-text('已处理')")
        assert (
            "已通知消防上门检查"
            in await page.locator(f"tr[data-alert='{alert['alert_id']}']").inner_text()
        )
