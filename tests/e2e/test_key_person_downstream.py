"""A key person's case downstream (issue 23): the community office joins it as co-handler
(rules.yaml ``key_persons``), its 回访 is a person's (no SMS rating link; the community is
told one is due) and it is never closed for want of a rating. Its own stack with the test
clock: the feedback window passes."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.auth.keys import Role
from shared.db.migrate import migrate_all_async
from tests.e2e.conftest import Keys
from tests.e2e.intake_helpers import XINGFU, case, phone
from tests.e2e.test_escalation import _advance_past, _clock_now
from tests.support.services import ServiceProcs
from tests.support.stack import StackUnderTest, create_stack, drop_stack
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e
COMMUNITY = "d01-s01-c01-sq"  # 幸福社区居委会


@pytest.fixture(scope="module")
async def kp_stack() -> AsyncIterator[StackUnderTest]:
    s = await create_stack("kpdown")
    await migrate_all_async(s.database_url)
    yield s
    await drop_stack(s)


@pytest.fixture(scope="module")
async def kp(
    kp_stack: StackUnderTest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ServiceProcs]:
    procs = ServiceProcs(
        stack=kp_stack,
        log_dir=Path(tmp_path_factory.mktemp("key-person-logs")),
        env_extra={
            "SHAOBAO_TEST_CLOCK": "true",
            "SHAOBAO_NOTIFIER_QUIET_START": "00:00",
            "SHAOBAO_NOTIFIER_QUIET_END": "00:00",
        },
    )
    await procs.start_all()
    yield procs
    procs.stop_all()


async def _get(http: httpx.AsyncClient, url: str, key: dict[str, str], **params: Any) -> Any:
    r = await http.get(url, headers=key, params=params)
    assert r.status_code == 200, r.text
    return r.json()


async def _resolved(
    http: httpx.AsyncClient, svc: ServiceProcs, keys: Keys, ops: dict[str, str], case_id: str
) -> list[str]:
    """Every dispatch acknowledged and resolved; the owners dispatched."""
    router = svc.url("router")

    async def dispatched() -> Any:
        found = await _get(http, f"{router}/v1/cases/{case_id}", ops)
        return found if found["dispatches"] else None

    found = await eventually(dispatched, timeout=60, what="case dispatched")
    for d in found["dispatches"]:
        dept = await keys.make(Role.DEPARTMENT, owner=d["owner_id"])
        url = f"{router}/v1/dispatches/{d['dispatch_id']}"
        assert (await http.post(f"{url}/acknowledge", headers=dept)).status_code == 200
        done = await http.post(
            f"{url}/resolve", headers=dept, json={"outcome": "resolved", "summary": "已修复"}
        )
        assert done.status_code == 200, done.text
    return sorted(f"{d['role']}:{d['owner_id']}" for d in found["dispatches"])


async def test_a_key_persons_case_joins_the_community_and_waits_for_a_persons_return_visit(
    kp: ServiceProcs, kp_stack: StackUnderTest
) -> None:
    keys = Keys(kp_stack)
    ops = await keys.make(Role.OPS)
    superior = await keys.make(Role.CHANNEL, channel="superior_transfer")
    grid = await keys.make(Role.CHANNEL, channel="grid_app")
    router = kp.url("router")
    async with httpx.AsyncClient(timeout=15) as http:
        ids = {}
        for name, key in (("key", superior), ("plain", grid)):
            body = case("public.streetlight", f"路灯不亮 {name}", XINGFU,
                        petitioner={"phone": phone()}, external_id=secrets.token_hex(6))  # fmt: skip
            r = await http.post(f"{kp.url('intake')}/v1/cases", json=body, headers=key)
            assert r.status_code == 201, r.text
            assert r.json()["key_person"] is (name == "key")
            ids[name] = r.json()["case_id"]

        owners = {n: await _resolved(http, kp, keys, ops, c) for n, c in ids.items()}
        assert f"co_handler:{COMMUNITY}" in owners["key"]
        assert f"co_handler:{COMMUNITY}" not in owners["plain"]

        async def resolved_deliveries(case_id: str) -> Any:
            rows = await _get(http, f"{kp.url('notifier')}/v1/deliveries", ops, case_id=case_id)
            found = [d["owner_id"] for d in rows if d["event_type"] == "case.resolved"]
            return [o for o in found if not o.startswith("channel:")] or None

        told = {n: await eventually(lambda c=c: resolved_deliveries(c), what=f"{n} told")
                for n, c in ids.items()}  # fmt: skip
        assert "petitioner" in told["plain"]
        assert "petitioner" not in told["key"] and COMMUNITY in told["key"]

        async def state(case_id: str, wanted: str) -> Any:
            found = await _get(http, f"{router}/v1/cases/{case_id}", ops)
            return found if found["state"] == wanted else None

        for c in ids.values():
            await eventually(lambda c=c: state(c, "awaiting_feedback"), what="awaiting rating")
        await _advance_past(kp_stack, await _clock_now(kp_stack) + timedelta(days=7, hours=1))
        closed = await eventually(lambda: state(ids["plain"], "closed"), what="plain closed")
        assert closed["close_kind"] == "no_feedback"
        waiting = await _get(http, f"{router}/v1/cases/{ids['key']}", ops)
        assert waiting["state"] == "awaiting_feedback"
        listed = await _get(http, f"{router}/v1/cases", ops, state="awaiting_feedback",
                            key_person="true")  # fmt: skip
        assert ids["key"] in {c["case_id"] for c in listed["items"]}
