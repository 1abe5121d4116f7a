"""A submission never rewrites a person's record; each case keeps the contact given with it,
and only an audited admin action corrects the record (issue 17 #1)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from shared.auth.keys import Role
from tests.e2e.conftest import Keys
from tests.e2e.intake_helpers import HEPINGLI, XINGFU, case, phone
from tests.support.services import ServiceProcs
from tests.support.stack import StackUnderTest
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


async def lead_owner(
    http: httpx.AsyncClient, services: ServiceProcs, ops: dict[str, str], case_id: str
) -> str:
    async def lead() -> str | None:
        r = await http.get(f"{services.url('router')}/v1/cases/{case_id}", headers=ops)
        ds = r.json().get("dispatches", []) if r.status_code == 200 else []
        return next((d["owner_id"] for d in ds if d["role"] == "lead"), None)

    return await eventually(lead, what=f"{case_id} dispatched")


async def revealed(
    http: httpx.AsyncClient, services: ServiceProcs, dept: dict[str, str], case_id: str
) -> dict[str, Any]:
    url = f"{services.url('intake')}/v1/cases/{case_id}/petitioner"

    async def shown() -> dict[str, Any] | None:
        r = await http.get(url, params={"reveal": "true"}, headers=dept)
        return r.json() if r.status_code == 200 else None

    return await eventually(shown, what=f"the petitioner of {case_id} for its owner")


async def test_another_channel_naming_a_known_phone_changes_nothing_of_that_person(
    services: ServiceProcs, keys: Keys, stack: StackUnderTest
) -> None:
    hotline = await keys.make(Role.CHANNEL, channel="hotline_12345")
    wechat = await keys.make(Role.CHANNEL, channel="wechat")
    ops, admin = await keys.make(Role.OPS), await keys.make(Role.ADMIN)
    number = phone()
    real = {"name": "王女士", "phone": number, "email": "wang@example.cn"}
    fake = {"name": "冒名者", "phone": number, "email": "attacker@evil.example"}
    url = f"{services.url('intake')}/v1/cases"
    async with httpx.AsyncClient(timeout=10) as http:
        first = await http.post(
            url,
            json=case("public.streetlight", "路灯不亮", XINGFU, petitioner=real),
            headers=hotline,
        )
        assert first.status_code == 201, first.text
        mine = first.json()["case_id"]
        other = await http.post(
            url,
            json=case("neighbour.dispute", "邻居噪音", HEPINGLI, petitioner=fake),
            headers=wechat,
        )
        assert other.status_code == 201 and other.json()["created"], other.text
        theirs = other.json()["case_id"]

        owner = await lead_owner(http, services, ops, mine)
        view = await revealed(http, services, await keys.make(Role.DEPARTMENT, owner=owner), mine)
        assert (view["name"], view["phone"], view.get("email")) == (
            "王女士",
            number,
            "wang@example.cn",
        )
        owner2 = await lead_owner(http, services, ops, theirs)
        dept2 = await keys.make(Role.DEPARTMENT, owner=owner2)
        given = await revealed(http, services, dept2, theirs)
        assert (given["name"], given["email"]) == ("冒名者", "attacker@evil.example")

        ref = await stack.fetchval(
            "SELECT petitioner_ref FROM intake.cases WHERE case_id = $1", mine
        )
        record = f"{services.url('intake')}/v1/petitioners/{ref}/contact"
        stored = (await http.get(record, headers=admin)).json()
        assert stored["email"] == "wang@example.cn", "the notifier would mail the attacker"

        correction = {"email": "wang.new@example.cn", "name": None}
        assert (await http.patch(record, json=correction, headers=ops)).status_code == 403
        assert (await http.patch(record, json=correction, headers=wechat)).status_code == 403
        fixed = await http.patch(record, json=correction, headers=admin)
        assert fixed.status_code == 200, fixed.text
        assert fixed.json()["fields"] == ["email", "name"]
        stored = (await http.get(record, headers=admin)).json()
        assert (stored["email"], stored["phone"]) == ("wang.new@example.cn", number)
        unknown = f"{services.url('intake')}/v1/petitioners/p_{'0' * 32}/contact"
        assert (await http.patch(unknown, json=correction, headers=admin)).status_code == 404
        # the case keeps what was given with it
        again = await revealed(http, services, await keys.make(Role.DEPARTMENT, owner=owner), mine)
        assert again["email"] == "wang@example.cn"
    audit = await stack.fetch(
        "SELECT actor, detail FROM platform.audit_log WHERE action = 'petitioner.correct'"
        " AND detail->>'petitioner_ref' = $1",
        ref,
    )
    assert len(audit) == 1 and audit[0]["actor"].startswith("admin:")
    assert "wang.new" not in str(audit[0]["detail"]) and "email" in str(audit[0]["detail"])
