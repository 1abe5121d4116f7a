"""One person, many numbers (一人多号, issue 23): numbers that meet on a submission are one
person, staff merge and split persons (audited), and the repeat / key-person rule counts
the person, not the number."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest

from shared.auth.keys import Role
from tests.e2e.conftest import Keys
from tests.e2e.intake_helpers import HEPINGLI, XINGFU, case, id_number, phone, ref_of
from tests.support.services import ServiceProcs
from tests.support.stack import StackUnderTest

pytestmark = pytest.mark.e2e
COMMUNITY = "d01-s01-c01-sq"
OTHER_STREET = "d01-s02-jd"


async def _submit(http: httpx.AsyncClient, url: str, key: dict[str, str], body: Any) -> Any:
    r = await http.post(f"{url}/cases", json=body, headers=key)
    assert r.status_code == 201, r.text
    return r.json()


async def test_two_phones_and_an_id_number_become_one_person_counted_once_by_the_rule(
    services: ServiceProcs, keys: Keys, stack: StackUnderTest
) -> None:
    channel = await keys.make(Role.CHANNEL, channel="walk_in")
    sup = await keys.make(Role.SUPERVISOR, owner=COMMUNITY)
    url = f"{services.url('intake')}/v1"
    home, mobile, idn = phone(), phone(), id_number()
    settings = stack.settings()
    home_ref, mobile_ref = ref_of(settings, phone=home), ref_of(settings, phone=mobile)
    id_ref = ref_of(settings, id_number=idn)
    async with httpx.AsyncClient(timeout=15) as http:
        # 1: the home phone and the ID number meet; 2: the mobile alone (a new person)
        one = case("property.fee", "物业费上涨", XINGFU,
                   petitioner={"name": "孙女士", "phone": home, "id_number": idn})  # fmt: skip
        assert (await _submit(http, url, channel, one))["key_person"] is False
        two = case("sanitation.garbage", "垃圾清运不及时", XINGFU, petitioner={"phone": mobile})
        assert (await _submit(http, url, channel, two))["key_person"] is False
        r = await http.get(f"{url}/persons/{mobile_ref}", headers=sup)
        assert r.status_code == 200 and r.json()["person_ref"] == mobile_ref, r.text
        # 3: the mobile with the ID number: one person, three petitions, a key person
        three = case("public.streetlight", "路灯不亮", XINGFU,
                     petitioner={"phone": mobile, "id_number": idn})  # fmt: skip
        third = await _submit(http, url, channel, three)
        assert third["key_person"] is True

        person = (await http.get(f"{url}/persons/{mobile_ref}", headers=sup)).json()
        assert person["person_ref"] == home_ref
        assert {r["ref"] for r in person["refs"]} == {home_ref, id_ref, mobile_ref}
        assert person["petitions"] == 3 and person["key_person"] is True
        file = (await http.get(f"{url}/key-persons/{id_ref}", headers=sup)).json()
        assert file["petitioner_ref"] == home_ref and file["petitions"] == 3
        assert len(file["cases"]) == 3


async def test_staff_merge_and_split_persons_audited_and_scoped(
    services: ServiceProcs, keys: Keys, stack: StackUnderTest
) -> None:
    channel = await keys.make(Role.CHANNEL, channel="hotline_12345")
    sup = await keys.make(Role.SUPERVISOR, owner=COMMUNITY)
    other = await keys.make(Role.SUPERVISOR, owner=OTHER_STREET)
    ops = await keys.make(Role.OPS)
    dept = await keys.make(Role.DEPARTMENT, owner="d01-s01-zfd")
    url = f"{services.url('intake')}/v1"
    a, b, far = phone(), phone(), phone()
    settings = stack.settings()
    a_ref, b_ref, far_ref = (ref_of(settings, phone=p) for p in (a, b, far))
    async with httpx.AsyncClient(timeout=15) as http:
        for number, code, title in (
            (a, "property.fee", "物业费"),
            (b, "neighbour.dispute", "邻里纠纷"),
        ):
            await _submit(
                http, url, channel, case(code, title, XINGFU, petitioner={"phone": number})
            )
        await _submit(http, url, channel,
                      case("property.fee", "物业费", HEPINGLI, petitioner={"phone": far}))  # fmt: skip
        merge = {"refs": [a_ref, b_ref], "reason": "同一人换号，网格员核实"}
        for key, status in ((ops, 403), (dept, 403), (other, 404), (channel, 403)):
            assert (
                await http.post(f"{url}/persons/merge", json=merge, headers=key)
            ).status_code == status
        with_far = {"refs": [a_ref, far_ref], "reason": "跨辖区"}
        assert (
            await http.post(f"{url}/persons/merge", json=with_far, headers=sup)
        ).status_code == 404
        assert (await http.get(f"{url}/persons/{far_ref}", headers=sup)).status_code == 404
        assert (await http.get(f"{url}/persons/{a_ref}", headers=sup)).json()["refs"] == [
            {"ref": a_ref, "kind": "petitioner", "linked_at": None, "source": None}
        ]

        r = await http.post(f"{url}/persons/merge", json=merge, headers=sup)
        assert r.status_code == 200, r.text
        assert {x["ref"] for x in r.json()["refs"]} == {a_ref, b_ref}
        again = await http.post(f"{url}/persons/merge", json=merge, headers=sup)
        assert again.status_code == 409 and "同一人" in again.json()["detail"]
        # the rule counts the person: a third petition from b makes a key person
        third = await _submit(http, url, channel,
                              case("public.streetlight", "路灯", XINGFU, petitioner={"phone": b}))  # fmt: skip
        assert third["key_person"] is True

        own = await http.post(f"{url}/persons/{a_ref}/split",
                              json={"refs": [a_ref], "reason": "误"}, headers=sup)  # fmt: skip
        assert own.status_code == 409
        split = {"refs": [b_ref], "reason": "核实为两人"}
        assert (
            await http.post(f"{url}/persons/{a_ref}/split", json=split, headers=other)
        ).status_code == 404
        r = await http.post(f"{url}/persons/{a_ref}/split", json=split, headers=sup)
        assert r.status_code == 200 and r.json() == {"person_ref": a_ref, "split_into": b_ref}
        assert {
            x["ref"] for x in (await http.get(f"{url}/persons/{a_ref}", headers=sup)).json()["refs"]
        } == {a_ref}
        assert (await http.get(f"{url}/persons/{b_ref}", headers=sup)).json()["person_ref"] == b_ref

    conn = await asyncpg.connect(stack.raw_database_url)
    try:
        rows = await conn.fetch(
            "SELECT action, detail FROM platform.audit_log WHERE detail->>'person_ref' = $1", a_ref
        )
    finally:
        await conn.close()
    assert sorted(r["action"] for r in rows) == ["person.merge", "person.split"]
