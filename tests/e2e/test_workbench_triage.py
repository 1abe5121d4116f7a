"""The dispatchers' queue in a real browser (issue 21 with issue 20): the district desk signs
in, sees a free-text order the model was unsure of with the three suggestions, their
probabilities and where the rules would send each, picks the matter and the place, and
the case is dispatched; then it reclassifies another case from its page.
``SHAOBAO_SCREENSHOTS=1`` saves the pages to docs/workbench/.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser

from shared.auth.keys import Role
from tests.e2e.conftest import Keys
from tests.e2e.workbench_helpers import (
    HAS_CHROMIUM,
    chromium,
    restart_router_with_sources,
    shot,
    signed_in,
)
from tests.support.services import ServiceProcs
from tests.support.waiting import eventually

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not HAS_CHROMIUM, reason="chromium is not installed"),
]
DESK = "d01-xfb"  # 城西区信访办: the district's dispatch desk
JINXIU = "d01.s01.c01.g02.k01"


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as b:
        yield b


async def _submit(services: ServiceProcs, key: dict[str, str], body: dict[str, Any]) -> str:
    body = {"external_id": f"12345-{secrets.token_hex(5)}"} | body
    async with httpx.AsyncClient(timeout=15) as http:
        r = await http.post(f"{services.url('intake')}/v1/cases", json=body, headers=key)
    assert r.status_code == 201, r.text
    return str(r.json()["case_id"])


async def _case(services: ServiceProcs, key: dict[str, str], case_id: str, state: str) -> Any:
    async def look() -> Any:
        async with httpx.AsyncClient(timeout=15) as http:
            r = await http.get(f"{services.url('router')}/v1/cases/{case_id}", headers=key)
        return r.json() if r.status_code == 200 and r.json()["state"] == state else None

    return await eventually(look, timeout=60, what=f"case {case_id} {state}")


async def test_the_desk_picks_from_the_queue_and_reclassifies_in_the_browser(
    browser: Browser, services: ServiceProcs, keys: Keys
) -> None:
    await restart_router_with_sources(services)
    hotline = await keys.make(Role.CHANNEL, channel="hotline_12345")
    ops = await keys.make(Role.OPS)
    desk = await keys.make(Role.SUPERVISOR, owner=DESK)
    unsure = await _submit(services, hotline, {
        "title": "反映问题", "description": "有件事想反映一下，请回电（楼道）",
        "address": "锦绣花园6号楼",
    })  # fmt: skip
    await _case(services, ops, unsure, "awaiting_triage")
    base = services.url("router")
    page = await signed_in(browser, base, desk, person="派单员李明")
    await page.click("nav a:has-text('派单队列')")
    item = page.locator("article.triage-item", has=page.locator(f"a[href$='{unsure}']"))
    await item.wait_for()
    text = await item.inner_text()
    assert "模型把握不足" in text and "锦绣花园" in text
    assert text.count("%") >= 3  # the three suggestions with their probabilities
    assert "→" in text and "（主办）" in text  # where the rules would send each
    await shot(page, "dispatcher-triage-queue")
    await item.locator("select[name=other_category]").select_option("fire.ebike_charging")
    await item.locator(f"input[name=place][value='{JINXIU}']").check()
    await item.locator("textarea[name=reason]").fill("回电核实：楼道里给电动车充电")
    await item.locator("button:has-text('派单')").click()
    await page.wait_for_selector("p.done:has-text('已判定并派单')")
    case = await _case(services, ops, unsure, "dispatched")
    assert case["category"] == "fire.ebike_charging"
    assert {d["owner_id"] for d in case["dispatches"]} == {"d01-xfjy", "wy-jinxiu"}
    assert any(t["action"] == "triage" and "楼道里给电动车充电" in t["reason"]
               for t in case["timeline"])  # fmt: skip

    # reclassify that case from its page: it is a street lamp matter after all
    await page.goto(f"{base}/workbench/cases/{unsure}")
    form = page.locator("form.reclassify")
    await form.locator("select[name=category]").select_option("public.streetlight")
    await form.locator("textarea[name=reason]").fill("现场核实为路灯损坏")
    await form.locator("button").click()
    await page.wait_for_selector("p.done:has-text('已重新分类')")
    await shot(page, "dispatcher-reclassified")
    after = await _case(services, ops, unsure, "dispatched")
    live = [d["owner_id"] for d in after["dispatches"] if d["state"] != "cancelled"]
    assert after["category"] == "public.streetlight" and live == ["d01-s01-zfd"]
    # a department's key finds no queue page
    firm = await keys.make(Role.DEPARTMENT, owner="wy-jinxiu")
    other = await signed_in(browser, base, firm)
    resp = await other.goto(f"{base}/workbench/triage")
    assert resp is not None and resp.status == 403
