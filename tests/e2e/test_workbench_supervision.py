"""The workbench in a real browser for the offices that supervise, and for a window:

- the street office blows a whistle on a case, sees who reported in and who did not,
  designates the lead, and approves a pending extension request of another case;
- a search by the petitioner's phone and by 电梯 finds the cases;
- the community records a 回访 rating taken by phone, 不满意, and the case reopens;
- the 12345 window registers a case for a caller, the signed-in person its 首问负责人;
- ops sees the services' health, the queues and the undelivered notifications.
``SHAOBAO_SCREENSHOTS=1`` saves the pages to docs/workbench/.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import UUID

import aio_pika
import asyncpg
import httpx
import pytest
from playwright.async_api import Browser, Page

from shared.auth.keys import Role
from tests.e2e.conftest import Keys
from tests.e2e.intake_helpers import phone
from tests.e2e.workbench_helpers import (
    HAS_CHROMIUM,
    Arrange,
    chromium,
    lead_of,
    restart_router_with_sources,
    shot,
    signed_in,
)
from tests.support.services import ServiceProcs
from tests.support.stack import StackUnderTest
from tests.support.waiting import eventually

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not HAS_CHROMIUM, reason="chromium is not installed (apt-get install chromium)"
    ),
]
STREET, COMMUNITY = "d01-s02-jd", "d01-s02-c01-sq"  # 和平街道办事处 / 和平里社区居委会
POLICE, JUSTICE = "d01-s02-pcs", "d01-s02-sfs"  # 和平派出所 / 和平司法所


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as b:
        yield b


@pytest.fixture(scope="module")
async def arrange(services: ServiceProcs, keys: Keys) -> AsyncIterator[Arrange]:
    await restart_router_with_sources(services)
    async with httpx.AsyncClient(timeout=15) as http:
        yield await Arrange(http, services, keys).start()


async def reload_until(page: Page, selector: str, text: str) -> None:
    """Reload until ``selector`` holds ``text`` (the services work asynchronously)."""

    async def shown() -> bool:
        await page.reload()
        found = page.locator(selector)
        return await found.count() > 0 and text in await found.first.inner_text()

    await eventually(shown, what=f"{text!r} in {selector}")


async def test_the_street_office_whistles_designates_the_lead_and_approves_an_extension(
    browser: Browser, arrange: Arrange, services: ServiceProcs, keys: Keys
) -> None:
    base = services.url("router")
    waiting = await arrange.submit("neighbour.high_altitude_throwing", "12号楼高空抛物",
                                   "12号楼有人从高层扔垃圾，砸坏车辆。")  # fmt: skip
    police = lead_of(await arrange.dispatched(waiting))
    assert police["owner_id"] == POLICE
    await arrange.act(police, "acknowledge")
    await arrange.act(
        police, "extension", {"working_days": 3, "reason": "需调取监控，等待物业配合"}
    )
    street = await keys.make(Role.SUPERVISOR, owner=STREET)
    pending = arrange.url("escalation", "/v1/extensions")

    async def requested() -> bool:
        r = await arrange.http.get(pending, headers=street)
        return any(e["dispatch_id"] == police["dispatch_id"] for e in r.json())

    await eventually(requested, what="the extension request pending at escalation")

    noisy = await arrange.submit("neighbour.high_altitude_throwing", "8号楼夜间高空抛物",
                                 "8号楼夜间多次高空抛物，邻里纠纷激化。")  # fmt: skip
    await arrange.dispatched(noisy)
    page = await signed_in(browser, base, street)
    await page.goto(f"{base}/workbench/cases/{noisy}")
    await page.fill("form.whistle textarea[name=reason]", "涉及治安与调解，需派出所、司法所到场")
    await page.check(f"form.whistle input[value='{POLICE}']")
    await page.check(f"form.whistle input[value='{JUSTICE}']")
    await page.click("form.whistle button")
    await page.wait_for_selector("p.done:has-text('已吹哨')")

    whistles = arrange.url("escalation", "/v1/whistles")

    async def blown() -> str | None:
        r = await arrange.http.get(whistles, params={"case_id": noisy}, headers=street)
        return r.json()[0]["whistle_id"] if r.status_code == 200 and r.json() else None

    whistle_id = await eventually(blown, what="the whistle blown")
    r = await arrange.http.post(
        f"{whistles}/{whistle_id}/report-in", headers=await arrange.dept(POLICE)
    )
    assert r.status_code == 200, r.text

    await page.goto(f"{base}/workbench")
    card = f"div[data-whistle='{whistle_id}']"
    await reload_until(page, f"{card} li.reported", "和平派出所")
    assert "未报到" in await page.inner_text(f"{card} li.convened")
    assert "待审批延期申请" in await page.inner_text("#extensions")
    assert "需调取监控" in await page.inner_text(f"div[data-extension='{police['dispatch_id']}']")
    await shot(page, "supervisor-home")

    await page.select_option(f"{card} select[name=lead_owner_id]", POLICE)
    await page.click(f"{card} form.lead button")
    await page.wait_for_selector("p.done:has-text('已指定主办单位')")
    r = await arrange.http.get(whistles, params={"case_id": noisy}, headers=street)
    decided = r.json()[0]
    assert decided["state"] == "decided" and decided["lead_owner_id"] == POLICE
    assert decided["co_handler_ids"] == [JUSTICE]

    await page.click(f"div[data-extension='{police['dispatch_id']}'] button[value=yes]")
    await page.wait_for_selector("p.done:has-text('已批准延期')")
    r = await arrange.http.get(pending, params={"state": "approved"}, headers=street)
    assert any(e["dispatch_id"] == police["dispatch_id"] for e in r.json()), r.text


async def test_a_search_by_phone_and_by_text_finds_the_cases(
    browser: Browser, arrange: Arrange, services: ServiceProcs, keys: Keys
) -> None:
    number = phone()
    lift = await arrange.submit("property.elevator", "9号楼电梯停运", "9号楼电梯停运三天。",
                                number=number)  # fmt: skip
    other = await arrange.submit("neighbour.high_altitude_throwing", "6号楼高空抛物",
                                 "6号楼阳台花盆坠落。", number=number)  # fmt: skip
    await arrange.dispatched(lift)
    await arrange.dispatched(other)
    base = services.url("router")
    page = await signed_in(browser, base, await keys.make(Role.SUPERVISOR, owner=STREET))
    await page.goto(f"{base}/workbench/cases")
    await page.fill("input[name=phone]", number)
    await page.click("form.search button")
    await page.wait_for_selector("table.results")
    found = await page.inner_text("table.results")
    assert "9号楼电梯停运" in found and "6号楼高空抛物" in found
    await page.fill("input[name=phone]", "")
    await page.fill("input[name=q]", "电梯")
    await page.click("form.search button")
    await page.wait_for_selector(f"table.results tr[data-case='{lift}']")
    assert await page.locator(f"table.results tr[data-case='{other}']").count() == 0
    await shot(page, "search")


async def test_the_community_records_a_phone_rating_and_unsatisfied_reopens_the_case(
    browser: Browser, arrange: Arrange, services: ServiceProcs, keys: Keys, stack: StackUnderTest
) -> None:
    case_id = await arrange.submit("neighbour.high_altitude_throwing", "2号楼高空抛物",
                                   "2号楼高空抛物，已装监控。")  # fmt: skip
    await arrange.resolve_all(case_id)
    base = services.url("router")
    page = await signed_in(browser, base, await keys.make(Role.SUPERVISOR, owner=COMMUNITY))
    await page.goto(f"{base}/workbench/cases/{case_id}")
    await page.select_option("form.rating select[name=method]", "phone")
    await page.check("form.rating input[value=unsatisfied]")
    await page.fill("form.rating textarea[name=comment]", "抛物仍时有发生")
    await shot(page, "supervisor-case-rating")
    await page.click("form.rating button")
    await page.wait_for_selector("p.done:has-text('回访评价已记录')")

    async def reopened() -> bool:  # 二次办理: reopened, then dispatched again
        found = await arrange.case(case_id)
        return "reopened" in [t["action"] for t in found["timeline"]]

    await eventually(reopened, what="the case reopened after 不满意")
    conn = await asyncpg.connect(stack.raw_database_url)
    try:
        audited = await conn.fetch(
            "SELECT actor, detail FROM platform.audit_log WHERE action = 'feedback.visit'"
        )
    finally:
        await conn.close()
    mine = [r for r in audited if case_id in r["detail"]]
    assert mine and mine[0]["actor"] == f"supervisor:{COMMUNITY}"
    assert '"method": "phone"' in mine[0]["detail"]


async def test_the_window_registers_a_case_for_a_caller(
    browser: Browser, arrange: Arrange, services: ServiceProcs, keys: Keys
) -> None:
    base = services.url("router")
    window = await keys.make(Role.CHANNEL, channel="hotline_12345")
    page = await signed_in(browser, base, window, person="王芳")
    await page.select_option("select[name=category]", "property.elevator")
    await page.fill("input[name=title]", "11号楼电梯按钮失灵")
    await page.fill("textarea[name=description]", "来电反映11号楼电梯按钮失灵，老人出行不便。")
    await page.fill("input[name=address]", "和平里小区11号楼")
    for level, code in (("district", "d01"), ("street", "s02"), ("community", "c01"),
                        ("grid", "g01"), ("compound", "k01")):  # fmt: skip
        await page.fill(f"input[name={level}]", code)
    await page.fill("input[name=name]", "钱先生")
    await page.fill("input[name=phone]", phone())
    await shot(page, "dispatcher-register")
    await page.click("form.register button")
    await page.wait_for_selector("p.done:has-text('诉求已登记')")
    number = await page.inner_text("[data-case-number]")
    assert number.startswith("SB")

    r = await arrange.http.get(
        arrange.url("router", "/v1/cases"), params={"q": number}, headers=window
    )
    assert r.status_code == 200 and r.json()["items"], r.text
    case_id = r.json()["items"][0]["case_id"]
    status = await arrange.http.get(arrange.url("intake", f"/v1/cases/{case_id}"), headers=window)
    assert status.json()["received_by"] == "王芳", status.text
    assert "分诊队列" in await page.inner_text("#triage-slot")


async def test_ops_sees_health_queues_and_deliveries(
    browser: Browser, services: ServiceProcs, keys: Keys
) -> None:
    await restart_router_with_sources(services)
    base = services.url("router")
    conn = await aio_pika.connect(services.stack.amqp_url)
    async with conn:  # a poison message for the notifier: dead-lettered at once
        exchange = await (await conn.channel(publisher_confirms=True)).get_exchange(
            "shaobao.events"
        )
        await exchange.publish(
            aio_pika.Message(b"{}", message_id="poison-workbench", type="case.dispatched"),
            routing_key="case.dispatched",
        )
    page = await signed_in(browser, base, await keys.make(Role.OPS))
    health = await page.inner_text("ul.health")
    assert health.count("正常") == 4, health
    await page.wait_for_selector("text=消息队列与死信")
    await reload_until(page, "#dead-letters", "poison-workbench")
    await shot(page, "ops-home")
    # ops reads; replaying takes an admin key (the API's reason is shown)
    form = page.locator("#dead-letters form").first
    await form.locator("button").click()
    refusal = await page.wait_for_selector("p.error")
    assert refusal is not None and await refusal.inner_text()
    admin = await signed_in(browser, base, await keys.make(Role.ADMIN))
    await reload_until(admin, "#dead-letters", "poison-workbench")
    await admin.locator("#dead-letters form button").first.click()
    await admin.wait_for_selector("p.done:has-text('死信已重放')")


async def test_escalated_to_me_lists_the_cases_escalated_to_the_office(
    arrange: Arrange, keys: Keys, stack: StackUnderTest
) -> None:
    """``GET /v1/cases?escalated_to_me=true`` (the supervisor's home) answered 500: the
    column was SQLAlchemy's generic ARRAY, which has no ``contains``."""
    case_id = await arrange.submit("neighbour.high_altitude_throwing", "15号楼高空抛物",
                                   "15号楼高空抛物，多次反映无果。")  # fmt: skip
    await arrange.dispatched(case_id)
    conn = await asyncpg.connect(stack.raw_database_url)
    try:  # arrange: the ladder reached the street office (the escalation's own record)
        await conn.execute(
            "UPDATE router.cases SET escalated_to = ARRAY[$1] WHERE case_id = $2",
            STREET, UUID(case_id),
        )  # fmt: skip
    finally:
        await conn.close()
    street = await keys.make(Role.SUPERVISOR, owner=STREET)
    r = await arrange.http.get(
        arrange.url("router", "/v1/cases"), params={"escalated_to_me": "true"}, headers=street
    )
    assert r.status_code == 200, r.text
    assert case_id in [c["case_id"] for c in r.json()["items"]]
