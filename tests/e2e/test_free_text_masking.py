"""Phone and ID numbers typed into a title or description leave intake masked (issue 17 #11).

They went out as typed in ``case.received`` (so in the router's case, its timeline, the
department webhooks) and in intake's own answers. Now every text intake sends or answers
is masked (``shared.security.redact``); the full text stays in intake, behind the audited
reveal of a department holding the case.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from shared.auth.keys import Role
from tests.e2e.conftest import Keys
from tests.e2e.intake_helpers import XINGFU, case, phone
from tests.e2e.test_petitioner_records import lead_owner, revealed
from tests.support.services import ServiceProcs
from tests.support.stack import StackUnderTest
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

MOBILE, LANDLINE, ID_NUMBER = "13812345678", "0571-87654321", "11010119900307123X"
TITLE = f"3号楼路灯不亮，回电{MOBILE}"
DESCRIPTION = f"2024-05-01起不亮。座机{LANDLINE}，身份证{ID_NUMBER}。"


async def test_numbers_typed_into_free_text_are_masked_everywhere_but_the_reveal(
    services: ServiceProcs, keys: Keys, stack: StackUnderTest
) -> None:
    channel = await keys.make(Role.CHANNEL, channel="hotline_12345")
    ops = await keys.make(Role.OPS)
    body = case("public.streetlight", TITLE, XINGFU, petitioner={"phone": phone()})
    body["description"] = DESCRIPTION
    intake = services.url("intake")
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.post(f"{intake}/v1/cases", json=body, headers=channel)
        assert r.status_code == 201, r.text
        case_id = r.json()["case_id"]
        owner = await lead_owner(http, services, ops, case_id)
        seen = (await http.get(f"{intake}/v1/cases/{case_id}", headers=channel)).json()
        assert seen["title"] == "3号楼路灯不亮，回电138****5678"
        dept = await keys.make(Role.DEPARTMENT, owner=owner)
        full = await revealed(http, services, dept, case_id)
        assert (full["title"], full["description"]) == (TITLE, DESCRIPTION)

    sent = await stack.fetchval(
        "SELECT body FROM intake.outbox WHERE routing_key = 'case.received' AND case_id = $1",
        case_id,
    )
    data: dict[str, Any] = json.loads(bytes(sent))["data"]
    assert data["title"] == "3号楼路灯不亮，回电138****5678"
    assert data["description"] == (
        "2024-05-01起不亮。座机0571-****4321，身份证110***********123X。"
    )

    async def routed() -> Any:
        return await stack.fetchval("SELECT title FROM router.cases WHERE case_id = $1", case_id)

    assert await eventually(routed, what="the router's case") == data["title"]
    stored = await stack.fetchval(
        "SELECT title || description FROM intake.cases WHERE case_id = $1", case_id
    )
    assert stored == TITLE + DESCRIPTION
