"""Escalation end to end on its own stack, with the test clock.

(b) a group-rental case (a known jurisdiction dispute) blows the whistle: city management
and housing are convened, both report in, the street office names the lead and co-handler,
and the router dispatches the case again with fresh clocks;
(a) a complex case nobody acknowledges gets its reminder (催办), then escalates (督办) to
the street office, then to the district, as ``shaobao clock advance`` moves time.
"""

from __future__ import annotations

import asyncio
import math
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest

from shared.auth.keys import Role
from shared.db.migrate import migrate_all_async
from shared.domain.calendar import SHANGHAI, WorkingCalendar
from tests.e2e.conftest import Keys
from tests.support.services import ROOT, ServiceProcs
from tests.support.stack import StackUnderTest, create_stack, drop_stack
from tests.support.waiting import eventually

CALENDAR = WorkingCalendar.load(ROOT / "config" / "calendar")

pytestmark = pytest.mark.e2e

XINGFU = {"district": "d01", "street": "s01", "community": "c01", "grid": "g01", "compound": "k01"}
STREET, DISTRICT = "d01-s01-jd", "d01-xfb"
CITY_MANAGEMENT, HOUSING = "d01-s01-zfd", "d01-zjw"  # $city_management of 新华街道; 住建


@pytest.fixture(scope="module")
async def esc_stack() -> AsyncIterator[StackUnderTest]:
    """Its own database and vhost: moving the clock must not disturb other modules."""
    s = await create_stack("esc")
    await migrate_all_async(s.database_url)
    yield s
    await drop_stack(s)


@pytest.fixture(scope="module")
async def esc(
    esc_stack: StackUnderTest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ServiceProcs]:
    procs = ServiceProcs(
        stack=esc_stack,
        log_dir=Path(tmp_path_factory.mktemp("escalation-logs")),
        env_extra={"SHAOBAO_TEST_CLOCK": "true"},
    )
    await procs.start_all()
    yield procs
    procs.stop_all()


@pytest.fixture(scope="module")
def esc_keys(esc_stack: StackUnderTest) -> Keys:
    return Keys(esc_stack)


@pytest.fixture(scope="module")
async def ops(esc_keys: Keys) -> dict[str, str]:
    return await esc_keys.make(Role.OPS)


async def _post_case(esc: ServiceProcs, keys: Keys, category: str, title: str) -> str:
    channel = await keys.make(Role.CHANNEL, channel="grid_app")
    body = {
        "external_id": f"esc-{secrets.token_hex(6)}",
        "category": category,
        "title": title,
        "description": f"督办端到端测试：{title}",
        "location": XINGFU,
    }
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.post(f"{esc.url('intake')}/v1/cases", json=body, headers=channel)
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


async def _clock_now(stack: StackUnderTest) -> datetime:
    conn = await asyncpg.connect(stack.raw_database_url)
    try:
        offset = await conn.fetchval("SELECT offset_seconds FROM platform.test_clock WHERE id = 1")
    finally:
        await conn.close()
    return datetime.now(UTC) + timedelta(seconds=float(offset or 0))


async def _advance_past(stack: StackUnderTest, moment: datetime) -> None:
    """``shaobao clock advance`` to one minute past ``moment`` (as an operator would)."""
    minutes = math.ceil((moment - await _clock_now(stack)).total_seconds() / 60) + 1
    if minutes <= 0:
        return
    proc = await asyncio.create_subprocess_exec(
        "uv", "run", "shaobao", "clock", "advance", f"{minutes}m",
        cwd=ROOT,
        env=stack.env(SHAOBAO_TEST_CLOCK="true"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, err.decode()


async def test_group_rental_whistle_is_answered_and_the_case_dispatched_again(
    esc: ServiceProcs, esc_keys: Keys, ops: dict[str, str]
) -> None:
    case_id = await _post_case(esc, esc_keys, "housing.group_rental", "群租隔断")
    whistles_url = f"{esc.url('escalation')}/v1/whistles"

    async def blown() -> Any:
        found = await _get(whistles_url, ops, case_id=case_id)
        return found[0] if found else None

    whistle = await eventually(blown, timeout=60, what="whistle blown")
    assert whistle["blown_by"] == STREET and whistle["state"] == "open"
    assert {m["owner_id"] for m in whistle["members"]} == {CITY_MANAGEMENT, HOUSING}
    wid = whistle["whistle_id"]

    outsider = await esc_keys.make(Role.DEPARTMENT, owner="d01-sthj")
    refused = await _post(f"{whistles_url}/{wid}/report-in", outsider)
    assert refused.status_code == 404 and STREET not in refused.text, refused.text
    for owner in (CITY_MANAGEMENT, HOUSING):
        key = await esc_keys.make(Role.DEPARTMENT, owner=owner)
        r = await _post(f"{whistles_url}/{wid}/report-in", key)
        assert r.status_code == 200, r.text
    members = {m["owner_id"]: m for m in r.json()["members"]}
    assert all(m["state"] == "reported" and m["reported_at"] for m in members.values())

    decision = {"lead_owner_id": CITY_MANAGEMENT, "co_handler_ids": [HOUSING]}
    other_street = await esc_keys.make(Role.SUPERVISOR, owner="d01-s02-jd")
    r = await _post(f"{whistles_url}/{wid}/lead", other_street, decision)
    assert r.status_code == 404 and STREET not in r.text, r.text  # whose whistle: not said
    street = await esc_keys.make(Role.SUPERVISOR, owner=STREET)
    assert await _get(whistles_url, street, case_id=case_id), "the street sees its whistle"
    assert not await _get(whistles_url, other_street, case_id=case_id), "not another street's"
    r = await _post(f"{whistles_url}/{wid}/lead", street, decision)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "decided" and r.json()["lead_owner_id"] == CITY_MANAGEMENT
    assert (await _post(f"{whistles_url}/{wid}/lead", street, decision)).status_code == 409

    async def redispatched() -> Any:
        case = await _get(f"{esc.url('router')}/v1/cases/{case_id}", ops)
        return case if case["state"] == "dispatched" else None

    case = await eventually(redispatched, timeout=60, what="case dispatched after the whistle")
    roles = {d["owner_id"]: d["role"] for d in case["dispatches"]}
    assert roles == {CITY_MANAGEMENT: "lead", HOUSING: "co_handler"}
    actions = [t["action"] for t in case["timeline"]]
    assert actions[-2:] == ["lead_designated", "dispatched"], actions
    decided_at = datetime.fromisoformat(r.json()["decided_at"])
    for d in case["dispatches"]:
        assert datetime.fromisoformat(d["created_at"]) >= decided_at - timedelta(seconds=2)
        assert datetime.fromisoformat(d["resolve_due_at"]) > decided_at + timedelta(days=14)

    async def armed() -> Any:
        rows = await _get(f"{esc.url('escalation')}/v1/deadlines", ops, case_id=case_id)
        clocks = [x for x in rows if x["dispatch_id"] and x["state"] == "armed"]
        return clocks if len(clocks) == 6 else None  # ack, progress, resolve × 2 owners

    await eventually(armed, timeout=30, what="fresh clocks armed for the new dispatches")


async def _next_working_morning(stack: StackUnderTest) -> datetime:
    """09:00 Asia/Shanghai of the next working day, on the test clock."""
    day = (await _clock_now(stack)).astimezone(SHANGHAI).date() + timedelta(days=1)
    while not CALENDAR.is_working_day(day):
        day += timedelta(days=1)
    return datetime.combine(day, time(9, 0), tzinfo=SHANGHAI)


async def test_unacknowledged_case_is_reminded_then_escalated_to_street_then_district(
    esc: ServiceProcs, esc_stack: StackUnderTest, esc_keys: Keys, ops: dict[str, str]
) -> None:
    # The case arrives on a working morning: at night its reminder would fall in the
    # quiet hours, and an acknowledge clock's reminder held past the clock's own due time
    # is superseded by the escalation (no reminder to check). Run at 03:00 Shanghai time
    # this test failed for that reason alone.
    await _advance_past(esc_stack, await _next_working_morning(esc_stack))
    case_id = await _post_case(esc, esc_keys, "neighbour.dispute", "邻里纠纷无人签收")
    deadlines_url = f"{esc.url('escalation')}/v1/deadlines"
    escalations_url = f"{esc.url('escalation')}/v1/escalations"

    async def lead_ack_clock() -> Any:
        case = await _get(f"{esc.url('router')}/v1/cases/{case_id}", ops)
        lead = next((d for d in case["dispatches"] if d["role"] == "lead"), None)
        if lead is None:
            return None
        rows = await _get(deadlines_url, ops, case_id=case_id)
        return next(
            (
                x
                for x in rows
                if x["dispatch_id"] == lead["dispatch_id"] and x["kind"] == "acknowledge"
            ),
            None,
        )

    ack = await eventually(lead_ack_clock, timeout=60, what="acknowledge clock armed")
    assert ack["owner_id"] == "d01-s01-c01-sq" and ack["remind_at"] < ack["due_at"]

    async def reminded() -> Any:
        row = await lead_ack_clock()
        if row["reminded_at"]:
            return row
        if row["remind_at"] and row["remind_at"] != ack["remind_at"]:
            await _advance_past(esc_stack, datetime.fromisoformat(row["remind_at"]))
        return None

    await _advance_past(esc_stack, datetime.fromisoformat(ack["remind_at"]))
    row = await eventually(reminded, timeout=30, what="reminder (催办) sent")
    assert row["state"] == "armed", "a reminder does not stop the clock"

    async def escalated_to(owner: str) -> Any:
        steps = await _get(escalations_url, ops, case_id=case_id)
        return next(
            (
                s
                for s in steps
                if s["dispatch_id"] == ack["dispatch_id"]
                and s["clock"] == "acknowledge"
                and s["to_owner_id"] == owner
            ),
            None,
        )

    await _advance_past(esc_stack, datetime.fromisoformat(ack["due_at"]))
    first = await eventually(
        lambda: escalated_to(STREET), timeout=30, what="escalated to the street office"
    )
    assert first["level"] == "street_office" and first["from_owner_id"] == "d01-s01-c01-sq"
    assert "签收时限已过" in first["reason"] and first["due_at"]

    await _advance_past(esc_stack, datetime.fromisoformat(first["due_at"]))
    second = await eventually(
        lambda: escalated_to(DISTRICT), timeout=30, what="escalated to the district"
    )
    assert second["level"] == "district_petition_bureau"
    assert second["from_owner_id"] == STREET

    async def on_router_timeline() -> Any:
        case = await _get(f"{esc.url('router')}/v1/cases/{case_id}", ops)
        actions = [t["action"] for t in case["timeline"]]
        return actions if actions.count("escalated") >= 2 and "reminder" in actions else None

    actions = await eventually(
        on_router_timeline, timeout=30, what="reminder and escalations on the case timeline"
    )
    assert actions.index("reminder") < actions.index("escalated")


async def test_an_approved_extension_moves_the_resolve_clock_by_working_days(
    esc: ServiceProcs, esc_keys: Keys, ops: dict[str, str], esc_stack: StackUnderTest
) -> None:
    case_id = await _post_case(esc, esc_keys, "neighbour.dispute", "申请延期")

    async def lead() -> Any:
        case = await _get(f"{esc.url('router')}/v1/cases/{case_id}", ops)
        return next((d for d in case["dispatches"] if d["role"] == "lead"), None)

    dispatch = await eventually(lead, timeout=60, what="case dispatched")
    dispatch_url = f"{esc.url('router')}/v1/dispatches/{dispatch['dispatch_id']}"
    community = await esc_keys.make(Role.DEPARTMENT, owner=dispatch["owner_id"])
    assert (await _post(f"{dispatch_url}/acknowledge", community)).status_code == 200
    r = await _post(f"{dispatch_url}/extension", community, {"working_days": 3, "reason": "需调解"})
    assert r.status_code == 200, r.text

    decide_url = f"{esc.url('escalation')}/v1/extensions/{dispatch['dispatch_id']}/decide"
    other = await esc_keys.make(Role.SUPERVISOR, owner="d01-s02-jd")
    street = await esc_keys.make(Role.SUPERVISOR, owner=STREET)

    async def decided() -> Any:
        r = await _post(decide_url, street, {"approve": True})
        return r if r.status_code != 404 else None

    async def pending() -> Any:
        conn = await asyncpg.connect(esc_stack.raw_database_url)
        try:
            return await conn.fetchval(
                "SELECT 1 FROM escalation.extensions WHERE dispatch_id = $1 AND state = 'pending'",
                UUID(dispatch["dispatch_id"]),
            )
        finally:
            await conn.close()

    await eventually(pending, timeout=30, what="extension request reaches escalation")
    refused = await _post(decide_url, other, {"approve": True})  # another street's supervisor
    assert refused.status_code == 404 and dispatch["owner_id"] not in refused.text, refused.text
    r = await eventually(decided, timeout=30, what="extension request reaches escalation")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["approved"] is True and body["working_days"] == 3
    old_due = datetime.fromisoformat(dispatch["resolve_due_at"])
    new_due = datetime.fromisoformat(body["resolve_due_at"])
    assert new_due - old_due >= timedelta(days=3)
    rows = await _get(f"{esc.url('escalation')}/v1/deadlines", ops, case_id=case_id)
    resolve = next(
        x for x in rows if x["dispatch_id"] == dispatch["dispatch_id"] and x["kind"] == "resolve"
    )
    assert datetime.fromisoformat(resolve["due_at"]) == new_due and resolve["state"] == "armed"
    assert (await _post(decide_url, street, {"approve": False})).status_code == 404, "decided once"

    async def router_moved() -> Any:
        case = await _get(f"{esc.url('router')}/v1/cases/{case_id}", ops)
        d = next(x for x in case["dispatches"] if x["dispatch_id"] == dispatch["dispatch_id"])
        done = datetime.fromisoformat(d["resolve_due_at"]) == new_due
        return case if done else None

    case = await eventually(router_moved, timeout=30, what="router holds the new resolve deadline")
    assert any(
        t["action"] == "extension_decided" and "同意延期" in t["reason"] for t in case["timeline"]
    )


async def test_no_rating_within_the_window_closes_the_case_as_no_feedback(
    esc: ServiceProcs, esc_stack: StackUnderTest, esc_keys: Keys, ops: dict[str, str]
) -> None:
    case_id = await _post_case(esc, esc_keys, "neighbour.dispute", "办结后无人评价")

    async def dispatched() -> Any:
        case = await _get(f"{esc.url('router')}/v1/cases/{case_id}", ops)
        return case if case["dispatches"] else None

    case = await eventually(dispatched, timeout=60, what="case dispatched")
    for d in case["dispatches"]:
        dept = await esc_keys.make(Role.DEPARTMENT, owner=d["owner_id"])
        url = f"{esc.url('router')}/v1/dispatches/{d['dispatch_id']}"
        assert (await _post(f"{url}/acknowledge", dept)).status_code == 200
        done = await _post(f"{url}/resolve", dept, {"outcome": "resolved", "summary": "已调解"})
        assert done.status_code == 200, done.text

    async def in_state(state: str) -> Any:
        c = await _get(f"{esc.url('router')}/v1/cases/{case_id}", ops)
        return c if c["state"] == state else None

    await eventually(lambda: in_state("awaiting_feedback"), what="waiting for the rating")
    await _advance_past(esc_stack, await _clock_now(esc_stack) + timedelta(days=7, hours=1))
    closed = await eventually(lambda: in_state("closed"), timeout=30, what="closed as no feedback")
    assert closed["close_kind"] == "no_feedback"
    assert "无反馈" in closed["timeline"][-1]["reason"]
