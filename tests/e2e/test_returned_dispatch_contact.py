"""A department that returned its dispatch (退单) no longer sees the petitioner (issue 17 #6).

Access to the petitioner's contact follows the live dispatch: intake hears
``dispatch.returned`` and ends that dispatch's hold, while the owner the case was re-routed
to gains it.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable

import httpx
import pytest

from shared.auth.keys import Role
from tests.e2e.conftest import Keys
from tests.e2e.intake_helpers import XINGFU, case, phone
from tests.e2e.test_department_api import Desk, lead_of
from tests.support.services import ServiceProcs
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


async def test_a_department_that_returned_its_dispatch_no_longer_reads_the_petitioner(
    services: ServiceProcs, keys: Keys
) -> None:
    channel = await keys.make(Role.CHANNEL, channel="hotline_12345")
    who = {"name": "李先生", "phone": phone()}
    intake = services.url("intake")
    async with httpx.AsyncClient(timeout=10) as http:
        desk = Desk(http, services, keys)
        body = case("environment.cooking_fume", "楼下餐馆油烟", XINGFU, petitioner=who)
        r = await http.post(f"{intake}/v1/cases", json=body, headers=channel)
        assert r.status_code == 201, r.text
        case_id = r.json()["case_id"]
        first = lead_of(await desk.wait_state(case_id, "dispatched"))
        url = f"{intake}/v1/cases/{case_id}/petitioner"
        returned = await keys.make(Role.DEPARTMENT, owner=first["owner_id"])

        async def status(key: dict[str, str], reveal: bool = False) -> int:
            params = {"reveal": "true"} if reveal else None
            return (await http.get(url, params=params, headers=key)).status_code

        await eventually(lambda: _is(status(returned), 200), what="the first owner's hold")
        r = await desk.act(
            first, "return", {"reason_code": "not_our_jurisdiction", "note": "非本单位"}
        )
        assert r.status_code == 200, r.text
        second = lead_of(await desk.wait_state(case_id, "dispatched"))
        assert second["owner_id"] != first["owner_id"]
        now_held = await keys.make(Role.DEPARTMENT, owner=second["owner_id"])
        await eventually(lambda: _is(status(now_held), 200), what="the second owner's hold")
        await eventually(lambda: _is(status(returned), 404), what="the returned owner's hold ended")
        assert await status(returned, reveal=True) == 404
        gone = await http.get(url, params={"reveal": "true"}, headers=returned)
        unknown = await http.get(f"{intake}/v1/cases/{uuid.uuid4()}/petitioner", headers=returned)
        assert gone.json() == unknown.json()
        shown = (await http.get(url, params={"reveal": "true"}, headers=now_held)).json()
        assert shown["phone"] == who["phone"]


async def _is(answer: Awaitable[int], expected: int) -> bool:
    return await answer == expected
