"""A supervisor blows the whistle by hand on a case already in hand (吹哨报到): the
departments report in, the supervisor names a new lead, the old dispatches are cancelled
and their clocks stop, and the new owners get fresh dispatches."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from shared.auth.keys import Role
from tests.e2e.conftest import Keys
from tests.e2e.test_first_case import ELEVATOR
from tests.support.services import ServiceProcs
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e
STREET = "d01-s01-jd"


async def test_a_supervisor_whistles_a_case_in_hand_and_names_a_new_lead(
    services: ServiceProcs, keys: Keys
) -> None:
    channel = await keys.make(Role.CHANNEL, channel="hotline_12345")
    ops = await keys.make(Role.OPS)
    street = await keys.make(Role.SUPERVISOR, owner=STREET)
    router, esc = services.url("router"), services.url("escalation")
    async with httpx.AsyncClient(timeout=10) as http:
        case_id = (
            await http.post(f"{services.url('intake')}/v1/cases", json=ELEVATOR, headers=channel)
        ).json()["case_id"]

        async def case() -> dict[str, Any]:
            return dict((await http.get(f"{router}/v1/cases/{case_id}", headers=ops)).json())

        async def dispatched() -> dict[str, Any] | None:
            c = await case()
            return c if c.get("dispatches") else None

        first = await eventually(dispatched, what="case dispatched")
        old_ids = {d["dispatch_id"] for d in first["dispatches"]}

        body = {
            "reason": "电梯长期停运，涉及维修资金，需住建部门到场",
            "convene": ["wy-xingfu", "d01-zjw"],
        }
        stranger = await keys.make(Role.DEPARTMENT, owner="wy-xingfu")
        assert (
            await http.post(f"{router}/v1/cases/{case_id}/whistle", json=body, headers=stranger)
        ).status_code == 403
        r = await http.post(f"{router}/v1/cases/{case_id}/whistle", json=body, headers=street)
        assert r.status_code == 202, r.text
        assert r.json()["state"] == "dispatched"

        async def whistle() -> dict[str, Any] | None:
            rows = (
                await http.get(f"{esc}/v1/whistles", params={"case_id": case_id}, headers=ops)
            ).json()
            return rows[0] if rows else None

        w = await eventually(whistle, what="whistle blown")
        assert w["blown_by"] == STREET and {m["owner_id"] for m in w["members"]} == {
            "wy-xingfu",
            "d01-zjw",
        }
        for owner in ("wy-xingfu", "d01-zjw"):
            dept = await keys.make(Role.DEPARTMENT, owner=owner)
            rep = await http.post(f"{esc}/v1/whistles/{w['whistle_id']}/report-in", headers=dept)
            assert rep.status_code == 200, rep.text
        decision = {"lead_owner_id": "d01-zjw", "co_handler_ids": ["wy-xingfu"]}
        lead = await http.post(
            f"{esc}/v1/whistles/{w['whistle_id']}/lead", json=decision, headers=street
        )
        assert lead.status_code == 200, lead.text

        async def redispatched() -> dict[str, Any] | None:
            c = await case()
            new = [d for d in c["dispatches"] if d["dispatch_id"] not in old_ids]
            return c if len(new) == 2 else None

        after = await eventually(redispatched, what="new dispatches after the lead decision")
        assert after["state"] == "dispatched"
        old = [d for d in after["dispatches"] if d["dispatch_id"] in old_ids]
        assert {d["state"] for d in old} == {"cancelled"}
        new_lead = next(
            d
            for d in after["dispatches"]
            if d["dispatch_id"] not in old_ids and d["role"] == "lead"
        )
        assert new_lead["owner_id"] == "d01-zjw" and new_lead["state"] == "pending"
        actions = [t["action"] for t in after["timeline"]]
        assert {"whistle_requested", "cancelled", "lead_designated"} <= set(actions)

        async def old_clocks_stopped() -> bool:
            rows = (
                await http.get(f"{esc}/v1/deadlines", params={"case_id": case_id}, headers=ops)
            ).json()
            old_rows = [x for x in rows if x.get("dispatch_id") in old_ids]
            return bool(old_rows) and all(x["state"] != "armed" for x in old_rows)

        await eventually(old_clocks_stopped, what="cancelled dispatches' clocks disarmed")


async def test_a_whistle_on_a_closed_or_unknown_case_is_refused(
    services: ServiceProcs, keys: Keys
) -> None:
    street = await keys.make(Role.SUPERVISOR, owner=STREET)
    body = {"reason": "x", "convene": ["d01-zjw"]}
    async with httpx.AsyncClient(timeout=10) as http:
        missing = await http.post(
            f"{services.url('router')}/v1/cases/01a20000-0000-7000-8000-000000000000/whistle",
            json=body,
            headers=street,
        )
        assert missing.status_code == 404
        bad = await http.post(
            f"{services.url('router')}/v1/cases/01a20000-0000-7000-8000-000000000000/whistle",
            json={"reason": "x", "convene": []},
            headers=street,
        )
        assert bad.status_code == 422
