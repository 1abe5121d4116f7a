"""Issue 22: the holes found by walking the ladder, each on its own stack with the test
clock (moving the clock must not disturb other modules).

3  the ladder starts at the office of the case's own area for every owner kind, and a
   skipped level is explained on the timeline;
4  one escalation per level per case naming every overdue clock, no progress clock on a
   dispatch never acknowledged;
7  an emergency at night: reminded despite quiet hours, escalated on clock minutes;
9  whistle report-in deadlines count office hours;
6  report-in misses go to the level above the whistle-blower;
and the rest of the points further down.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from shared.auth.keys import Role
from shared.db.migrate import migrate_all_async
from shared.domain.calendar import SHANGHAI
from tests.e2e.conftest import Keys
from tests.e2e.intake_helpers import HEPINGLI, case, phone
from tests.e2e.test_escalation import CALENDAR, _advance_past, _clock_now
from tests.support.services import ServiceProcs
from tests.support.stack import StackUnderTest, create_stack, drop_stack
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

XINGFU = {"district": "d01", "street": "s01", "community": "c01", "grid": "g01", "compound": "k01"}
NO_COMMUNITY_OFFICE = {"district": "d01", "street": "s01", "community": "c09", "grid": "g01", "compound": "k01"}  # fmt: skip
COMMUNITY, STREET, DISTRICT = "d01-s01-c01-sq", "d01-s01-jd", "d01-xfb"


@pytest.fixture(scope="module")
async def holes_stack() -> AsyncIterator[StackUnderTest]:
    s = await create_stack("holes")
    await migrate_all_async(s.database_url)
    yield s
    await drop_stack(s)


@pytest.fixture(scope="module")
async def holes(
    holes_stack: StackUnderTest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ServiceProcs]:
    procs = ServiceProcs(
        stack=holes_stack,
        log_dir=Path(tmp_path_factory.mktemp("holes-logs")),
        env_extra={"SHAOBAO_TEST_CLOCK": "true"},
    )
    await procs.start_all()
    yield procs
    procs.stop_all()


@pytest.fixture(scope="module")
def hkeys(holes_stack: StackUnderTest) -> Keys:
    return Keys(holes_stack)


@pytest.fixture(scope="module")
async def ops(hkeys: Keys) -> dict[str, str]:
    return await hkeys.make(Role.OPS)


async def _case(
    svc: ServiceProcs, keys: Keys, category: str, where: dict[str, str], **extra: Any
) -> str:
    channel = await keys.make(Role.CHANNEL, channel="grid_app")
    body = {
        "external_id": f"holes-{secrets.token_hex(6)}",
        "category": category,
        "title": f"督办漏洞：{category}",
        "description": "督办端到端测试（issue 22）",
        "location": where,
        **extra,
    }
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.post(f"{svc.url('intake')}/v1/cases", json=body, headers=channel)
    assert r.status_code == 201, r.text
    return str(r.json()["case_id"])


async def _get(url: str, headers: dict[str, str], **params: Any) -> Any:
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.get(url, headers=headers, params=params)
    assert r.status_code == 200, r.text
    return r.json()


async def _post(url: str, headers: dict[str, str], body: Any = None) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(url, headers=headers, json=body)


async def _dispatched(svc: ServiceProcs, ops: dict[str, str], case_id: str, n: int = 1) -> Any:
    async def probe() -> Any:
        case = await _get(f"{svc.url('router')}/v1/cases/{case_id}", ops)
        return case if len(case["dispatches"]) >= n else None

    return await eventually(probe, timeout=60, what="case dispatched")


async def _clocks(svc: ServiceProcs, ops: dict[str, str], case_id: str, kind: str) -> list[Any]:
    async def probe() -> Any:
        rows = await _get(f"{svc.url('escalation')}/v1/deadlines", ops, case_id=case_id)
        found = [r for r in rows if r["kind"] == kind]
        return found or None

    return list(await eventually(probe, timeout=30, what=f"{kind} clocks armed"))


async def _escalations(svc: ServiceProcs, ops: dict[str, str], case_id: str, n: int) -> Any:
    async def probe() -> Any:
        rows = await _get(f"{svc.url('escalation')}/v1/escalations", ops, case_id=case_id)
        return rows if len(rows) >= n else None

    return await eventually(probe, timeout=30, what=f"{n} escalation(s)")


async def _latest_due(svc: ServiceProcs, ops: dict[str, str], case_id: str, kind: str) -> datetime:
    return max(datetime.fromisoformat(r["due_at"]) for r in await _clocks(svc, ops, case_id, kind))


async def _next_local(stack: StackUnderTest, at: time, *, working: bool = True) -> datetime:
    """The next ``at`` (Asia/Shanghai) on the test clock, on a working day if asked."""
    now = (await _clock_now(stack)).astimezone(SHANGHAI)
    day = now.date() if now.time() < at else now.date() + timedelta(days=1)
    while working and not CALENDAR.is_working_day(day):
        day += timedelta(days=1)
    return datetime.combine(day, at, tzinfo=SHANGHAI)


async def test_a_property_firm_overdue_goes_to_the_community_of_its_compound_first(
    holes: ServiceProcs, holes_stack: StackUnderTest, hkeys: Keys, ops: dict[str, str]
) -> None:
    """Point 3: was straight to the district (the firm's parent chain: 住建 → 区信访办)."""
    case_id = await _case(holes, hkeys, "property.fee", XINGFU)
    await _dispatched(holes, ops, case_id)
    await _advance_past(holes_stack, await _latest_due(holes, ops, case_id, "acknowledge"))
    first = (await _escalations(holes, ops, case_id, 1))[0]
    assert first["to_owner_id"] == COMMUNITY and first["level"] == "community", first
    assert first["from_owner_id"] == "wy-xingfu"


async def test_a_level_with_no_office_is_skipped_and_the_timeline_says_why(
    holes: ServiceProcs, holes_stack: StackUnderTest, hkeys: Keys, ops: dict[str, str]
) -> None:
    """Point 3: a district brigade's case in a community with no office (c09): the street
    office supervises first (was: the district), and the skip is on the case timeline."""
    case_id = await _case(holes, hkeys, "fire.ebike_charging", NO_COMMUNITY_OFFICE)
    await _dispatched(holes, ops, case_id)
    await _advance_past(holes_stack, await _latest_due(holes, ops, case_id, "acknowledge"))
    first = (await _escalations(holes, ops, case_id, 1))[0]
    assert first["to_owner_id"] == STREET, first

    async def on_timeline() -> Any:
        case = await _get(f"{holes.url('router')}/v1/cases/{case_id}", ops)
        rows = [t for t in case["timeline"] if t["action"] == "escalated"]
        return rows or None

    rows = await eventually(on_timeline, timeout=30, what="escalation on the timeline")
    assert "跳过" in rows[0]["reason"] and "社区" in rows[0]["reason"], rows[0]["reason"]


async def test_one_silent_case_climbs_one_ladder_naming_every_overdue_clock(
    holes: ServiceProcs, holes_stack: StackUnderTest, hkeys: Keys, ops: dict[str, str]
) -> None:
    """Point 4: the lead (community) and co-handler (judicial office) both silent: one
    escalation to the street naming both (was: one chain per clock, four in all), and no
    progress escalation for dispatches never acknowledged."""
    await _advance_past(holes_stack, await _next_local(holes_stack, time(9, 0)))
    case_id = await _case(holes, hkeys, "neighbour.dispute", XINGFU)
    await _dispatched(holes, ops, case_id, n=2)
    await _advance_past(holes_stack, await _latest_due(holes, ops, case_id, "acknowledge"))
    steps = await _escalations(holes, ops, case_id, 1)
    assert [s["to_owner_id"] for s in steps] == [STREET], steps
    assert "幸福社区居委会" in steps[0]["reason"] and "新华司法所" in steps[0]["reason"]
    progress_due = await _latest_due(holes, ops, case_id, "progress")
    await _advance_past(holes_stack, max(progress_due, datetime.fromisoformat(steps[0]["due_at"])))
    steps = await _escalations(holes, ops, case_id, 2)
    assert [s["to_owner_id"] for s in steps] == [STREET, DISTRICT], steps
    assert all("progress" not in s["clock"] for s in steps), steps
    rows = await _get(f"{holes.url('escalation')}/v1/escalations", ops, case_id=case_id)
    levels = [s["level"] for s in rows]
    assert len(levels) == len(set(levels)), "one escalation per level"


async def test_an_emergency_at_night_is_reminded_and_escalated_on_clock_minutes(
    holes: ServiceProcs, holes_stack: StackUnderTest, hkeys: Keys, ops: dict[str, str]
) -> None:
    """Point 7: at 22:54 the reminder goes despite quiet hours (was: held and superseded),
    and the escalation gives minutes to act (was: working days)."""
    await _advance_past(holes_stack, await _next_local(holes_stack, time(22, 53), working=False))
    case_id = await _case(holes, hkeys, "family.violence", XINGFU, urgency="emergency")
    await _dispatched(holes, ops, case_id, n=2)
    ack = await _clocks(holes, ops, case_id, "acknowledge")
    await _advance_past(holes_stack, datetime.fromisoformat(ack[0]["remind_at"]))

    async def reminded() -> Any:
        rows = await _clocks(holes, ops, case_id, "acknowledge")
        return all(r["reminded_at"] for r in rows) or None

    await eventually(reminded, timeout=30, what="emergency reminded in quiet hours")
    await _advance_past(holes_stack, max(datetime.fromisoformat(r["due_at"]) for r in ack))
    step = (await _escalations(holes, ops, case_id, 1))[0]
    given = datetime.fromisoformat(step["due_at"]) - datetime.fromisoformat(step["created_at"])
    assert given <= timedelta(hours=1), step


async def _whistle(svc: ServiceProcs, ops: dict[str, str], case_id: str) -> Any:
    async def blown() -> Any:
        found = await _get(f"{svc.url('escalation')}/v1/whistles", ops, case_id=case_id)
        return found[0] if found else None

    return await eventually(blown, timeout=60, what="whistle blown")


async def test_a_report_in_set_in_the_evening_falls_due_in_office_hours(
    holes: ServiceProcs, holes_stack: StackUnderTest, hkeys: Keys, ops: dict[str, str]
) -> None:
    """Point 9: a 4-hour report-in set at 18:37 falls in the next working day's office
    hours (09:00-12:00, 13:30-18:00), not at 22:37."""
    await _advance_past(holes_stack, await _next_local(holes_stack, time(18, 36)))
    case_id = await _case(holes, hkeys, "housing.group_rental", XINGFU)
    whistle = await _whistle(holes, ops, case_id)
    due = datetime.fromisoformat(whistle["report_in_due_at"]).astimezone(SHANGHAI)
    assert CALENDAR.is_working_day(due.date()) and time(9, 0) < due.time() <= time(18, 0), due


async def test_units_that_miss_report_in_go_above_the_blower_in_one_escalation(
    holes: ServiceProcs, holes_stack: StackUnderTest, hkeys: Keys, ops: dict[str, str]
) -> None:
    """Point 6: city management and housing both miss the street's whistle: one escalation
    to the district, the level above the street office that blew it (was: one per unit,
    city management's to the street office itself, its parent)."""
    case_id = await _case(holes, hkeys, "housing.group_rental", XINGFU)
    whistle = await _whistle(holes, ops, case_id)
    assert whistle["blown_by"] == STREET
    await _advance_past(holes_stack, datetime.fromisoformat(whistle["report_in_due_at"]))
    steps = await _escalations(holes, ops, case_id, 1)
    report_in = [s for s in steps if s["clock"] == "report_in"]
    assert [s["to_owner_id"] for s in report_in] == [DISTRICT], report_in
    assert "城市管理" in report_in[0]["reason"] or "执法" in report_in[0]["reason"]
    assert "住房和城乡建设" in report_in[0]["reason"], report_in[0]["reason"]


async def _disputed_with_a_standing_co_handler(
    svc: ServiceProcs, keys: Keys, ops: dict[str, str]
) -> tuple[str, Any, Any]:
    """A 邻里纠纷 whose lead (the community) returned it with nobody left to take it: the
    case is disputed and whistled while the judicial office's co-handler dispatch stands."""
    case_id = await _case(svc, keys, "neighbour.dispute", XINGFU)
    case = await _dispatched(svc, ops, case_id, n=2)
    lead = next(d for d in case["dispatches"] if d["role"] == "lead")
    co = next(d for d in case["dispatches"] if d["role"] == "co_handler")
    community = await keys.make(Role.DEPARTMENT, owner=lead["owner_id"])
    back = {"reason_code": "not_our_jurisdiction", "note": "涉及违建，非社区职责"}
    url = f"{svc.url('router')}/v1/dispatches/{lead['dispatch_id']}/return"
    assert (await _post(url, community, back)).status_code == 200
    whistle = await _whistle(svc, ops, case_id)
    return case_id, whistle, co


async def _open_dispatches(svc: ServiceProcs, ops: dict[str, str], case_id: str, n: int) -> Any:
    async def probe() -> Any:
        case = await _get(f"{svc.url('router')}/v1/cases/{case_id}", ops)
        live = [d for d in case["dispatches"] if d["state"] not in ("cancelled", "returned")]
        new_lead = any(d["role"] == "lead" and d["state"] == "pending" for d in live)
        return (case, live) if new_lead and len(live) == n else None

    return await eventually(probe, timeout=60, what=f"{n} open dispatches after the decision")


async def test_a_redispatch_closes_every_dispatch_the_new_plan_does_not_keep(
    holes: ServiceProcs, hkeys: Keys, ops: dict[str, str]
) -> None:
    """Point 2: the judicial office stays co-handler: it keeps one open dispatch (was: two
    pending co-handler dispatches); left out of the next plan, its dispatch is cancelled
    with a timeline row (was: live for ever)."""
    street = await hkeys.make(Role.SUPERVISOR, owner=STREET)
    case_id, whistle, co = await _disputed_with_a_standing_co_handler(holes, hkeys, ops)
    decide = f"{holes.url('escalation')}/v1/whistles/{whistle['whistle_id']}/lead"
    plan = {"lead_owner_id": "d01-s01-zfd", "co_handler_ids": [co["owner_id"]]}
    assert (await _post(decide, street, plan)).status_code == 200
    _, live = await _open_dispatches(holes, ops, case_id, 2)
    held = [(d["owner_id"], d["role"]) for d in live]
    assert sorted(held) == sorted([("d01-s01-zfd", "lead"), (co["owner_id"], "co_handler")])

    case_id, whistle, co = await _disputed_with_a_standing_co_handler(holes, hkeys, ops)
    decide = f"{holes.url('escalation')}/v1/whistles/{whistle['whistle_id']}/lead"
    assert (await _post(decide, street, {"lead_owner_id": "d01-s01-pcs"})).status_code == 200
    case, live = await _open_dispatches(holes, ops, case_id, 1)
    assert [d["owner_id"] for d in live] == ["d01-s01-pcs"]
    cancelled = [
        t
        for t in case["timeline"]
        if t["action"] == "cancelled" and t["dispatch_id"] == co["dispatch_id"]
    ]
    assert cancelled and "不再保留" in cancelled[0]["reason"], case["timeline"]


async def test_a_designated_lead_asks_for_reconsideration_instead_of_returning(
    holes: ServiceProcs, hkeys: Keys, ops: dict[str, str]
) -> None:
    """Point 1: the lead the street office named cannot 退单 (was: returned, and a second
    whistle); it asks the street to reconsider with a reason, and the street decides."""
    street = await hkeys.make(Role.SUPERVISOR, owner=STREET)
    case_id, whistle, _co = await _disputed_with_a_standing_co_handler(holes, hkeys, ops)
    decide = f"{holes.url('escalation')}/v1/whistles/{whistle['whistle_id']}/lead"
    assert (await _post(decide, street, {"lead_owner_id": "d01-s01-zfd"})).status_code == 200

    async def designated() -> Any:
        case = await _get(f"{holes.url('router')}/v1/cases/{case_id}", ops)
        leads = [d for d in case["dispatches"] if d["role"] == "lead" and d["state"] == "pending"]
        return leads[0] if leads and leads[0]["owner_id"] == "d01-s01-zfd" else None

    lead = await eventually(designated, timeout=60, what="the designated lead's dispatch")
    url = f"{holes.url('router')}/v1/dispatches/{lead['dispatch_id']}"
    team = await hkeys.make(Role.DEPARTMENT, owner="d01-s01-zfd")
    back = {"reason_code": "not_our_jurisdiction", "note": "不归执法队"}
    refused = await _post(f"{url}/return", team, back)
    assert refused.status_code == 409 and "申请复核" in refused.text, refused.text

    asked = await _post(f"{url}/reconsideration", team, {"reason": "属邻里纠纷，应由调解组织主办"})
    assert asked.status_code == 200, asked.text
    again = await _post(f"{url}/reconsideration", team, {"reason": "再次申请"})
    assert again.status_code == 409 and "待决定" in again.text, again.text
    other = await hkeys.make(Role.SUPERVISOR, owner="d01-s02-jd")
    keep = {"uphold": True, "reason": "执法队牵头"}
    assert (await _post(f"{url}/reconsideration/decision", other, keep)).status_code == 404
    move = {"uphold": False, "reason": "改由派出所主办", "lead_owner_id": "d01-s01-pcs"}
    r = await _post(f"{url}/reconsideration/decision", street, move)
    assert r.status_code == 200 and r.json()["state"] == "cancelled", r.text
    case, live = await _open_dispatches(holes, ops, case_id, 1)
    assert live[0]["owner_id"] == "d01-s01-pcs"
    actions = [t["action"] for t in case["timeline"]]
    assert {"reconsideration_requested", "reconsideration_decided"} <= set(actions)
    police = await hkeys.make(Role.DEPARTMENT, owner="d01-s01-pcs")
    new_url = f"{holes.url('router')}/v1/dispatches/{live[0]['dispatch_id']}/return"
    assert (await _post(new_url, police, back)).status_code == 409, "designated again"
    whistles = await _get(f"{holes.url('escalation')}/v1/whistles", ops, case_id=case_id)
    assert len(whistles) == 1, "no second whistle"


async def test_a_collective_alert_counts_petitioners_of_one_matter_at_one_place(
    holes: ServiceProcs, hkeys: Keys, ops: dict[str, str]
) -> None:
    """Point 10: three elevator and two fee complainants of one compound are no 集体访
    (was: five petitioners of property.* counted together); five elevator ones are."""
    channel = await hkeys.make(Role.CHANNEL, channel="hotline_12345")
    url = f"{holes.url('intake')}/v1"
    place = "d01.s02.c01.g01.k01"

    async def post(category: str, n: int) -> None:
        async with httpx.AsyncClient(timeout=15) as http:
            for i in range(n):
                body = case(category, f"{i}号楼{category}", HEPINGLI, petitioner={"phone": phone()})
                r = await http.post(f"{url}/cases", json=body, headers=channel)
                assert r.status_code == 201, r.text

    async def collective() -> list[Any]:
        rows = await _get(f"{url}/alerts", ops)
        return [a for a in rows if a["kind"] == "collective" and a["place"] == place]

    await post("property.elevator", 3)
    await post("property.fee", 2)
    assert await collective() == [], "elevator and fee are two matters"
    await post("property.elevator", 2)
    raised = await collective()
    assert [(a["rule_id"], a["category"]) for a in raised] == [
        ("collective-property/property.elevator", "property.elevator")
    ]
    assert raised[0]["case_count"] == 5


async def test_extension_notices_go_both_ways_and_one_request_is_open_at_a_time(
    holes: ServiceProcs, hkeys: Keys, ops: dict[str, str]
) -> None:
    """Point 8: the approving office (the firm's parent, housing) is told of the request,
    the firm of the decision (was: neither), and a second request while one waits is
    refused with 409 and a Chinese reason (was: two pending at once)."""
    case_id = await _case(holes, hkeys, "property.fee", XINGFU)
    lead = (await _dispatched(holes, ops, case_id))["dispatches"][0]
    firm = await hkeys.make(Role.DEPARTMENT, owner=lead["owner_id"])
    url = f"{holes.url('router')}/v1/dispatches/{lead['dispatch_id']}"
    assert (await _post(f"{url}/acknowledge", firm)).status_code == 200
    ask = {"working_days": 3, "reason": "需业主大会表决"}
    assert (await _post(f"{url}/extension", firm, ask)).status_code == 200
    second = await _post(f"{url}/extension", firm, ask)
    assert second.status_code == 409 and "已有待审批的延期申请" in second.text, second.text

    async def told(event: str, owner: str) -> Any:
        rows = await _get(f"{holes.url('notifier')}/v1/deliveries", ops, case_id=case_id)
        return [d for d in rows if d["event_type"] == event and d["owner_id"] == owner] or None

    await eventually(lambda: told("dispatch.extension_requested", "d01-zjw"), what="approver told")
    housing = await hkeys.make(Role.SUPERVISOR, owner="d01-zjw")
    decide = f"{holes.url('escalation')}/v1/extensions/{lead['dispatch_id']}/decide"

    async def decided() -> Any:
        r = await _post(decide, housing, {"approve": False})
        return r if r.status_code != 404 else None

    assert (await eventually(decided, what="request reaches escalation")).status_code == 200
    await eventually(lambda: told("dispatch.extension_decided", lead["owner_id"]), what="firm told")

    async def may_ask_again() -> Any:
        r = await _post(f"{url}/extension", firm, ask)
        return r if r.status_code == 200 else None

    await eventually(may_ask_again, what="a new request once the first is decided")


async def test_past_the_city_the_case_joins_the_backlog_and_is_reminded_until_someone_acts(
    holes: ServiceProcs, holes_stack: StackUnderTest, hkeys: Keys, ops: dict[str, str]
) -> None:
    """Point 5: an emergency nobody acknowledges climbs street → district → city (minutes
    each), then joins the backlog (积案) held by the city petition bureau and is reminded
    every hour (was: a log line, and pending for ever); acknowledged, the reminders stop."""
    case_id = await _case(holes, hkeys, "family.violence", XINGFU, urgency="emergency")
    case = await _dispatched(holes, ops, case_id, n=2)
    await _advance_past(holes_stack, await _latest_due(holes, ops, case_id, "acknowledge"))
    for n in range(1, 7):  # at most community, street, district, city, then the backlog
        steps = await _escalations(holes, ops, case_id, n)
        if steps[-1]["level"] == "backlog":
            break
        await _advance_past(holes_stack, datetime.fromisoformat(steps[-1]["due_at"]))
    last = steps[-1]
    assert last["level"] == "backlog" and last["to_owner_id"] == "city-xfj", steps
    assert "积案" in last["reason"]
    listed = await _get(f"{holes.url('escalation')}/v1/backlog", ops)
    mine = [b for b in listed if b["case_id"] == case_id]
    assert mine and mine[0]["holder_id"] == "city-xfj", listed

    async def reminders() -> list[Any]:
        c = await _get(f"{holes.url('router')}/v1/cases/{case_id}", ops)
        return [t for t in c["timeline"] if t["action"] == "reminder" and "积案" in t["reason"]]

    await _advance_past(holes_stack, datetime.fromisoformat(mine[0]["next_reminder_at"]))
    await eventually(reminders, timeout=30, what="backlog reminder to the holder")
    for d in case["dispatches"]:
        dept = await hkeys.make(Role.DEPARTMENT, owner=d["owner_id"])
        url = f"{holes.url('router')}/v1/dispatches/{d['dispatch_id']}/acknowledge"
        assert (await _post(url, dept)).status_code == 200

    async def answered() -> Any:
        rows = await _clocks(holes, ops, case_id, "acknowledge")
        return all(r["state"] == "disarmed" for r in rows) or None

    await eventually(answered, timeout=30, what="acknowledgements reach escalation")
    seen = len(await reminders())
    listed = await _get(f"{holes.url('escalation')}/v1/backlog", ops)
    due = next(b for b in listed if b["case_id"] == case_id)["next_reminder_at"]
    await _advance_past(holes_stack, datetime.fromisoformat(due))

    async def left_backlog() -> Any:
        rows = await _get(f"{holes.url('escalation')}/v1/backlog", ops)
        return all(b["case_id"] != case_id for b in rows) or None

    await eventually(left_backlog, timeout=30, what="backlog ends once someone acts")
    assert len(await reminders()) == seen


async def test_a_whistle_that_can_convene_no_one_is_not_blown_and_goes_to_a_dispatcher(
    holes: ServiceProcs, holes_stack: StackUnderTest, hkeys: Keys, ops: dict[str, str]
) -> None:
    """Point 11: a disputed case nobody is involved in (no rule, no default) blew a whistle
    calling nobody (「召集  报到」). Now no whistle: it waits in the dispatchers' queue of
    the district's desk, whose clock climbs the ladder when nobody picks in time; the
    dispatcher's pick routes it and stops that clock."""
    case_id = await _case(holes, hkeys, "other", XINGFU)

    async def told() -> Any:
        case = await _get(f"{holes.url('router')}/v1/cases/{case_id}", ops)
        rows = [t for t in case["timeline"] if t["action"] == "whistle_unconvened"]
        return rows or None

    rows = await eventually(told, timeout=60, what="unconvened whistle on the timeline")
    assert "无可召集单位，转派单员人工分派" in rows[0]["reason"]
    assert await _get(f"{holes.url('escalation')}/v1/whistles", ops, case_id=case_id) == []
    desk = await hkeys.make(Role.SUPERVISOR, owner=DISTRICT)

    async def queued() -> Any:
        items = (await _get(f"{holes.url('router')}/v1/triage", desk))["items"]
        return next((i for i in items if i["case_id"] == case_id), None)

    item = await eventually(queued, timeout=30, what="the case in the district's queue")
    assert item["source"] == "unconvened" and item["state"] == "awaiting_triage"
    assert item["desk_owner_id"] == DISTRICT
    # nobody picks within the queue's 30 minutes: it climbs from the district's desk
    await _advance_past(holes_stack, datetime.fromisoformat(item["due_at"]))
    up = await _escalations(holes, ops, case_id, 1)
    assert [(e["clock"], e["to_owner_id"]) for e in up] == [("triage", "city-xfj")]
    assert "派单时限已过" in up[0]["reason"] and "城西区信访办" in up[0]["reason"]
    pick = {"category": "neighbour.dispute", "place": "d01.s01.c01.g01.k01", "reason": "邻里纠纷"}
    r = await _post(f"{holes.url('router')}/v1/triage/{case_id}", desk, pick)
    assert r.status_code == 200, r.text
    case = await _dispatched(holes, ops, case_id)
    assert case["category"] == "neighbour.dispute"

    async def stopped() -> Any:
        rows = await _get(f"{holes.url('escalation')}/v1/deadlines", ops, case_id=case_id)
        triage = [x for x in rows if x["kind"] == "triage"]
        return triage if triage and all(x["state"] == "disarmed" for x in triage) else None

    await eventually(stopped, timeout=30, what="the queue's clock stopped by the pick")


async def test_every_text_a_person_read_in_this_module_shows_beijing_time(
    holes: ServiceProcs, holes_stack: StackUnderTest
) -> None:
    """Runs last here, over everything the tests above made: reminders, escalations,
    whistles, extensions, the backlog. Timeline reasons and every message sent show times as
    ``2026-12-08 18:40`` (Beijing), never ISO 8601 or UTC."""
    conn = await asyncpg.connect(holes_stack.raw_database_url)
    try:
        reasons = [r for (r,) in await conn.fetch("SELECT reason FROM router.timeline") if r]
        bodies = [
            orjson.loads(b) for (b,) in await conn.fetch("SELECT body FROM notifier.deliveries")
        ]
    finally:
        await conn.close()
    messages = [b["message"] for b in bodies if isinstance(b.get("message"), str)]
    texts = reasons + messages
    machine = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}|UTC|[+-]\d{2}:\d{2}\b")
    wrong = [t for t in texts if machine.search(t)]
    assert not wrong, wrong[:5]
    shown = [t for t in texts if re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", t)]
    assert len(shown) >= 10, f"only {len(shown)} texts with a time: the scan saw too little"
