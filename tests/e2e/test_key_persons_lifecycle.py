"""The key-person registry as a lifecycle (issue 23): entered by rule or by hand, 一人一策,
visits, reviews on a cadence, 矛盾转化, and leaving — every change kept and audited."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from shared.auth.keys import Role
from shared.domain.calendar import SHANGHAI
from tests.e2e.conftest import Keys
from tests.e2e.intake_helpers import XINGFU, case, phone, ref_of
from tests.support.services import ServiceProcs
from tests.support.stack import StackUnderTest

pytestmark = pytest.mark.e2e
COMMUNITY = "d01-s01-c01-sq"  # 幸福社区居委会: supervises 幸福里小区 (XINGFU)
OTHER_STREET = "d01-s02-jd"  # 和平街道: another area
PLAN = {
    "matter": "房屋漏水多次信访",
    "measures": ["协调物业维修", "联系心理咨询师疏导", "申请暖心基金补贴"],
    "team": {"cadre": "社区干部 李明", "grid_worker": "网格员 王芳", "volunteer": "党员 赵强"},
    "review_on": "2027-03-01",
}
VISIT = {
    "kind": "home_visit",
    "visited_at": "2026-12-10T10:00:00+08:00",
    "visitors": ["李明", "王芳"],
    "method": "上门",
    "outcome": "情绪稳定，同意等待维修",
    "minutes": "了解漏水情况，联系物业明日上门。",
}


async def _submit(http: httpx.AsyncClient, url: str, key: dict[str, str], body: Any) -> Any:
    r = await http.post(f"{url}/cases", json=body, headers=key)
    assert r.status_code == 201, r.text
    return r.json()


async def test_a_key_person_is_planned_visited_reviewed_converted_and_leaves_with_history(
    services: ServiceProcs, keys: Keys, stack: StackUnderTest
) -> None:
    superior = await keys.make(Role.CHANNEL, channel="superior_transfer")
    sup = await keys.make(Role.SUPERVISOR, owner=COMMUNITY)
    other = await keys.make(Role.SUPERVISOR, owner=OTHER_STREET)
    ops = await keys.make(Role.OPS)
    url = f"{services.url('intake')}/v1"
    number = phone()
    ref = ref_of(stack.settings(), phone=number)
    async with httpx.AsyncClient(timeout=15) as http:
        body = case("property.water_leak", "房屋漏水多次上访", XINGFU, petitioner={"phone": number})
        first = await _submit(http, url, superior, body)
        assert first["key_person"] is True
        kp = f"{url}/key-persons/{ref}"

        # another area's supervisor and ops cannot act; refused writes change nothing
        assert (await http.put(f"{kp}/plan", json=PLAN, headers=other)).status_code == 404
        assert (await http.put(f"{kp}/plan", json=PLAN, headers=ops)).status_code == 403
        bad = await http.post(f"{kp}/visits", json=VISIT | {"kind": "party"}, headers=sup)
        assert bad.status_code == 422

        r = await http.put(f"{kp}/plan", json=PLAN, headers=sup)
        assert r.status_code == 200, r.text
        assert r.json()["plan"]["team"]["grid_worker"] == "网格员 王芳"
        assert (await http.put(f"{kp}/plan", json=PLAN, headers=sup)).status_code == 200

        visit = VISIT | {"case_id": first["case_id"]}
        r = await http.post(f"{kp}/visits", json=visit, headers=sup)
        assert r.status_code == 201, r.text
        again = await http.post(f"{kp}/visits", json=visit, headers=sup)  # a retry
        assert again.status_code == 200 and len(again.json()["visits"]) == 1
        assert again.json()["visits"][0]["kind_label"] == "上门走访"

        r = await http.post(f"{kp}/review", json={"note": "情绪平稳，继续帮扶"}, headers=sup)
        assert r.status_code == 200, r.text
        conversion = {"role": "volunteer", "since": "2026-12-12", "note": "聘为楼栋志愿者"}
        r = await http.post(f"{kp}/conversions", json=conversion, headers=sup)
        assert r.status_code == 201, r.text
        assert (
            await http.post(f"{kp}/conversions", json=conversion, headers=sup)
        ).status_code == 200
        listed = await http.get(f"{url}/key-person-conversions", headers=sup)
        assert [(c["role"], c["since"]) for c in listed.json() if c["petitioner_ref"] == ref] == [
            ("volunteer", "2026-12-12")
        ]
        hidden = await http.get(f"{url}/key-person-conversions", headers=other)
        assert ref not in hidden.text
        # what the KPI report's 矛盾转化 rate reads (router → intake's prevention summary)
        window = {"from": "2026-12-01T00:00:00+08:00", "to": "2027-01-01T00:00:00+08:00",
                  "area": "d01.s01.c01"}  # fmt: skip
        r = await http.get(f"{url}/reports/prevention", params=window, headers=sup)
        assert r.status_code == 200, r.text
        registry = r.json()["key_persons"]
        assert registry["converted"] >= 1 and registry["in_registry"] >= registry["converted"]

        r = await http.post(f"{kp}/leave", json={"reason": "诉求已解决，转为志愿者"}, headers=sup)
        assert r.status_code == 200 and r.json()["state"] == "left", r.text
        twice = await http.post(f"{kp}/leave", json={"reason": "重复"}, headers=sup)
        assert twice.status_code == 409 and "不在库" in twice.json()["detail"]
        late = await http.put(f"{kp}/plan", json=PLAN | {"matter": "新事项"}, headers=sup)
        assert late.status_code == 409

        file = (await http.get(kp, headers=sup)).json()
        assert file["state"] == "left" and file["left_reason"] == "诉求已解决，转为志愿者"
        assert [h["action"] for h in file["history"]] == [
            "entered", "plan", "visit", "reviewed", "converted", "left",
        ]  # fmt: skip
        assert {h["actor"] for h in file["history"][1:]} == {f"supervisor:{COMMUNITY}"}
        assert file["history"][0]["actor"] == "rule"
        assert [c["case_id"] for c in file["cases"]] == [first["case_id"]]
        active = (await http.get(f"{url}/key-persons", params={"limit": 500}, headers=sup)).text
        assert ref not in active
        left = await http.get(f"{url}/key-persons", params={"state": "left"}, headers=sup)
        assert ref in left.text

    conn = await asyncpg.connect(stack.raw_database_url)
    try:
        rows = await conn.fetch(
            "SELECT action, detail->>'role' AS role, detail ? 'visit_id' AS visit"
            " FROM platform.audit_log WHERE detail->>'petitioner_ref' = $1",
            ref,
        )
    finally:
        await conn.close()
    # one row per change (none for the retried plan, visit and conversion), with its detail
    assert sorted((r["action"], r["role"], r["visit"]) for r in rows) == [
        ("key_person.convert", "volunteer", False), ("key_person.leave", None, False),
        ("key_person.plan", None, False), ("key_person.review", None, False),
        ("key_person.visit", None, True),
    ]  # fmt: skip


async def test_a_person_entered_by_hand_is_listed_when_the_review_falls_due(
    services: ServiceProcs, keys: Keys, stack: StackUnderTest
) -> None:
    channel = await keys.make(Role.CHANNEL, channel="wechat")
    sup = await keys.make(Role.SUPERVISOR, owner=COMMUNITY)
    url = f"{services.url('intake')}/v1"
    number = phone()
    ref = ref_of(stack.settings(), phone=number)
    async with httpx.AsyncClient(timeout=15) as http:
        body = case("property.fee", "物业费争议", XINGFU, petitioner={"phone": number})
        assert (await _submit(http, url, channel, body))["key_person"] is False
        hand = {"petitioner_ref": ref, "reason": "情绪较激动，扬言越级上访"}
        r = await http.post(f"{url}/key-persons", json=hand, headers=sup)
        assert r.status_code == 201, r.text
        file = r.json()
        assert file["entered_by"] == f"supervisor:{COMMUNITY}" and file["reason"] == hand["reason"]
        assert file["review_is_due"] is False
        again = await http.post(f"{url}/key-persons", json=hand, headers=sup)
        assert again.status_code == 409 and "已在重点人员库中" in again.json()["detail"]
        blank = await http.post(f"{url}/key-persons", json=hand | {"reason": ""}, headers=sup)
        assert blank.status_code == 422
        unknown = {"petitioner_ref": "p_" + "0" * 32, "reason": "情绪较激动"}
        assert (await http.post(f"{url}/key-persons", json=unknown, headers=sup)).status_code == 404

        due = {"review_due": "true", "limit": 500}
        assert ref not in (await http.get(f"{url}/key-persons", params=due, headers=sup)).text
        conn = await asyncpg.connect(stack.raw_database_url)
        try:  # entered long ago: the review is overdue
            await conn.execute(
                "UPDATE intake.key_persons SET review_due = current_date - 3"
                " WHERE petitioner_ref = $1",
                ref,
            )
        finally:
            await conn.close()
        listed = (await http.get(f"{url}/key-persons", params=due, headers=sup)).json()
        mine = [f for f in listed if f["petitioner_ref"] == ref]
        assert mine and mine[0]["review_is_due"] is True
        r = await http.post(f"{url}/key-persons/{ref}/review", json={"note": "已走访"}, headers=sup)
        assert r.status_code == 200, r.text
        assert r.json()["review_is_due"] is False
        today = datetime.now(SHANGHAI).date()
        assert r.json()["review_due"] == str(today + timedelta(days=90))
        assert ref not in (await http.get(f"{url}/key-persons", params=due, headers=sup)).text
