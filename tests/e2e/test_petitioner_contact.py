"""A department sees a masked phone on its own dispatches; revealing it is audited."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest

from shared.auth.keys import Role
from tests.e2e.conftest import Keys
from tests.e2e.test_first_case import ELEVATOR, with_petitioner
from tests.support.services import ServiceProcs
from tests.support.stack import StackUnderTest
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


async def test_a_department_sees_a_masked_phone_and_a_reveal_is_audited(
    services: ServiceProcs, keys: Keys, stack: StackUnderTest
) -> None:
    channel = await keys.make(Role.CHANNEL, channel="hotline_12345")
    ops = await keys.make(Role.OPS)
    body = with_petitioner(ELEVATOR)
    phone = body["petitioner"]["phone"]
    async with httpx.AsyncClient(timeout=10) as http:
        case_id = (
            await http.post(f"{services.url('intake')}/v1/cases", json=body, headers=channel)
        ).json()["case_id"]

        async def lead() -> dict[str, Any] | None:
            r = await http.get(f"{services.url('router')}/v1/cases/{case_id}", headers=ops)
            ds = r.json().get("dispatches", []) if r.status_code == 200 else []
            return next((d for d in ds if d["role"] == "lead"), None)

        d = await eventually(lead, what="dispatched")
        mine = await keys.make(Role.DEPARTMENT, owner=d["owner_id"])
        url = f"{services.url('intake')}/v1/cases/{case_id}/petitioner"

        async def masked() -> dict[str, Any] | None:
            r = await http.get(url, headers=mine)
            return r.json() if r.status_code == 200 else None

        view = await eventually(masked, what="masked contact for the owner")
        assert view["masked_phone"] == f"{phone[:3]}****{phone[-4:]}"
        assert view["phone"] is None and phone not in str(view)
        stranger = await keys.make(Role.DEPARTMENT, owner="d01-cgw")
        assert (await http.get(url, headers=stranger)).status_code == 404
        revealed = (await http.get(url, params={"reveal": "true"}, headers=mine)).json()
        assert revealed["phone"] == phone and revealed["revealed"] is True
    conn = await asyncpg.connect(stack.raw_database_url)
    try:
        n = await conn.fetchval(
            "SELECT count(*) FROM platform.audit_log WHERE action = 'petitioner.reveal' "
            "AND detail->>'case_id' = $1 AND actor = $2",
            case_id,
            f"department:{d['owner_id']}",
        )
    finally:
        await conn.close()
    assert n == 1
