"""The workbench in a real browser (Chromium through Playwright), a department's day: the
property firm signs in, sees its new dispatch with a countdown, reads the description and
the photo, acknowledges, reports progress with a photo and resolves with evidence; every
step lands in the case through the department API. Another owner's case is 404 in the
browser, as in the API. ``SHAOBAO_SCREENSHOTS=1`` saves the pages to docs/workbench/."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser

from tests.e2e.conftest import Keys
from tests.e2e.workbench_helpers import (
    HAS_CHROMIUM,
    Arrange,
    chromium,
    lead_of,
    png,
    restart_router_with_sources,
    shot,
    signed_in,
)
from tests.support.services import ServiceProcs
from tests.support.waiting import eventually

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not HAS_CHROMIUM, reason="chromium is not installed (apt-get install chromium)"
    ),
]
FIRM = "wy-jinxiu"  # 锦绣物业: the property firm of 和平里小区 (d01.s02.c01.g01.k01)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as b:
        yield b


@pytest.fixture(scope="module")
async def arrange(services: ServiceProcs, keys: Keys) -> AsyncIterator[Arrange]:
    await restart_router_with_sources(services)
    async with httpx.AsyncClient(timeout=15) as http:
        yield await Arrange(http, services, keys).start()


async def test_a_property_firm_works_its_dispatch_from_the_browser(
    browser: Browser, arrange: Arrange, services: ServiceProcs
) -> None:
    case_id = await arrange.submit(
        "property.elevator", "3号楼电梯停运两天", "3号楼2单元电梯停运两天，老人无法下楼。",
        photo=png(tint=90),
    )  # fmt: skip
    lead = lead_of(await arrange.dispatched(case_id))
    assert lead["owner_id"] == FIRM
    base = services.url("router")
    page = await signed_in(browser, base, await arrange.dept(FIRM))

    row = page.locator(f"tr[data-dispatch='{lead['dispatch_id']}']")
    await row.wait_for()
    assert "3号楼电梯停运两天" in await row.inner_text()
    assert "剩余" in await row.locator(".countdown").inner_text()  # the script counts down
    await shot(page, "department-home")

    await row.locator("a").first.click()
    await page.wait_for_url(f"{base}/workbench/cases/{case_id}")
    assert "老人无法下楼" in await page.inner_text(".description")
    photo = page.locator(".attachments img")
    await photo.wait_for()
    assert await photo.evaluate("img => img.complete && img.naturalWidth") == 160
    assert "待签收" in await page.inner_text("section.actions h3")
    await shot(page, "department-case-pending")

    await page.click("form.ack button")
    await page.wait_for_selector("p.done")
    assert "已签收" in await page.inner_text("p.done")

    await page.fill("form.progress textarea[name=note]", "已联系维保单位到场检修")
    await page.fill("form.progress input[name=minutes_spent]", "45")
    await page.set_input_files(
        "form.progress input[name=photo]",
        files=[{"name": "检修.png", "mimeType": "image/png", "buffer": png(tint=200)}],
    )
    await page.click("form.progress button")
    await page.wait_for_selector("p.done:has-text('进展已报告')")
    await shot(page, "department-case-working")

    await page.select_option("form.resolve select[name=outcome]", "resolved")
    await page.fill("form.resolve textarea[name=summary]", "更换主板，电梯已恢复运行")
    await page.set_input_files(
        "form.resolve input[name=evidence]",
        files=[{"name": "验收单.png", "mimeType": "image/png", "buffer": png(tint=40)}],
    )
    await page.click("form.resolve button")
    await page.wait_for_selector("p.done:has-text('已办结')")

    found = await arrange.case(case_id)
    mine = next(d for d in found["dispatches"] if d["dispatch_id"] == lead["dispatch_id"])
    assert mine["state"] == "resolved"
    kinds = sorted(a["kind"] for a in found["attachments"])
    assert kinds == ["evidence", "intake", "progress"], found["attachments"]
    actions = [t["action"] for t in found["timeline"] if t["dispatch_id"] == lead["dispatch_id"]]
    assert {"acknowledged", "progress", "resolved"} <= set(actions), actions
    # the timeline on the page is in Chinese and Beijing time, with names, not codes
    timeline = await page.inner_text("table.timeline")
    assert "锦绣物业管理有限公司" in timeline and "报告进展" in timeline
    assert FIRM not in timeline and "UTC" not in timeline and "+00:00" not in timeline
    await shot(page, "department-case-resolved")


async def test_a_department_never_sees_another_owners_case(
    browser: Browser, arrange: Arrange, services: ServiceProcs
) -> None:
    case_id = await arrange.submit(
        "property.elevator", "5号楼电梯困人", "5号楼电梯困人，已报警。"
    )  # fmt: skip
    await arrange.dispatched(case_id)
    base = services.url("router")
    page = await signed_in(browser, base, await arrange.dept("d01-s02-sfs"))  # 和平司法所
    answer = await page.goto(f"{base}/workbench/cases/{case_id}")
    assert answer is not None and answer.status == 404
    assert "诉求不存在" in await page.inner_text("p.error")
    assert "5号楼电梯困人" not in await page.content()
    photo = await page.goto(f"{base}/workbench/cases/{case_id}/attachments/{'ab' * 32}")
    assert photo is not None and photo.status == 404
    await page.goto(f"{base}/workbench/cases?q=5号楼电梯困人")
    assert "没有符合条件的诉求" in await page.inner_text("table.results")
    await page.goto(f"{base}/workbench/cases/{case_id}")
    await shot(page, "department-not-yours")


async def test_a_form_without_the_sessions_token_is_refused(
    browser: Browser, arrange: Arrange, services: ServiceProcs
) -> None:
    case_id = await arrange.submit("property.elevator", "7号楼电梯异响", "电梯运行有异响。")
    lead = lead_of(await arrange.dispatched(case_id))
    base = services.url("router")
    page = await signed_in(browser, base, await arrange.dept(FIRM))
    form: dict[str, Any] = {"case_id": case_id, "dispatch_id": lead["dispatch_id"],
                            "action": "acknowledge", "csrf": "forged"}  # fmt: skip
    answer = await page.request.post(f"{base}/workbench/act", form=form)
    assert answer.status == 403
    assert (await arrange.case(case_id))["dispatches"][0]["state"] == "pending"

    async def unchanged() -> bool:
        return lead_of(await arrange.case(case_id))["state"] == "pending"

    assert await eventually(unchanged, what="the dispatch still pending")
