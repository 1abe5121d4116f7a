"""Early warnings (预警) once per window, collective petitions, and key persons (重点人员)."""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

import asyncpg
import httpx
import pytest

from shared.auth.keys import Role
from shared.security.pii import mask_phone
from tests.e2e.conftest import Keys
from tests.e2e.intake_helpers import HEPINGLI, XINGFU, case, phone
from tests.support.services import ServiceProcs
from tests.support.stack import StackUnderTest
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e
PLACE = "d01.s02.c01.g01.k01"


def _mine(alerts: list[dict[str, Any]], rule_id: str) -> list[dict[str, Any]]:
    return [a for a in alerts if a["rule_id"] == rule_id and a["place"] == PLACE]


async def test_elevator_complaints_in_one_compound_raise_exactly_one_alert_with_linked_handling(
    services: ServiceProcs, keys: Keys, stack: StackUnderTest
) -> None:
    channel = await keys.make(Role.CHANNEL, channel="hotline_12345")
    ops = await keys.make(Role.OPS)
    supervisor = await keys.make(Role.SUPERVISOR, owner="d01-s02-c01-sq")
    url = f"{services.url('intake')}/v1"

    async def residents(n: int) -> list[httpx.Response]:
        return await asyncio.gather(
            *(
                http.post(
                    f"{url}/cases",
                    json=case(
                        "property.elevator",
                        f"{i}号楼电梯故障",
                        HEPINGLI,
                        petitioner={"phone": phone()},
                    ),
                    headers=channel,
                )
                for i in range(n)
            )
        )

    async with httpx.AsyncClient(timeout=15) as http:
        first = await residents(3)
        assert {r.status_code for r in first} == {201}
        listed = await http.get(f"{url}/alerts", headers=ops)
        assert listed.status_code == 200, listed.text
        cluster = _mine(listed.json(), "elevator-cluster")
        assert len(cluster) == 1
        alert = cluster[0]
        assert {r.json()["case_id"] for r in first} <= set(alert["case_ids"])
        assert [o["owner_id"] for o in alert["convene"]] == ["wy-jinxiu", "wb-hengtong"]
        assert alert["notify"] and alert["priority"] == "normal"

        more = await residents(3)
        assert {r.status_code for r in more} == {201}
        again = (await http.get(f"{url}/alerts", headers=supervisor)).json()
        assert len(_mine(again, "elevator-cluster")) == 1
        group = _mine(again, "collective-property/property.elevator")
        assert len(group) == 1 and group[0]["priority"] == "high"
        assert (await http.get(f"{url}/alerts", headers=channel)).status_code == 403

    conn = await asyncpg.connect(stack.raw_database_url)
    try:
        bodies = await conn.fetch(
            "SELECT body FROM intake.outbox WHERE routing_key = 'alert.raised'"
        )
        raised = [json.loads(b["body"])["data"] for b in bodies]
        assert (
            len([a for a in raised if a["rule_id"] == "elevator-cluster" and a["place"] == PLACE])
            == 1
        )
        linked = await conn.fetch(
            "SELECT case_id FROM intake.cases WHERE channel = 'early_warning' "
            "AND status_detail->>'alert_id' = $1",
            alert["alert_id"],
        )
    finally:
        await conn.close()
    assert len(linked) == 1, "one linked handling per alert"

    async def dispatched_together() -> list[tuple[str, str]] | None:
        async with httpx.AsyncClient(timeout=10) as http:
            r = await http.get(
                f"{services.url('router')}/v1/cases/{linked[0]['case_id']}", headers=ops
            )
        ds = r.json().get("dispatches", []) if r.status_code == 200 else []
        return sorted((d["role"], d["owner_id"]) for d in ds) or None

    owners = await eventually(dispatched_together, what="linked handling dispatched")
    # 三方联动: the community office convenes the firm and the maintenance unit
    assert owners == [
        ("co_handler", "d01-s02-c01-sq"), ("co_handler", "wb-hengtong"), ("lead", "wy-jinxiu")
    ]  # fmt: skip


async def test_a_fourth_petition_from_one_phone_within_the_year_flags_a_key_person(
    services: ServiceProcs, keys: Keys, stack: StackUnderTest
) -> None:
    channel = await keys.make(Role.CHANNEL, channel="wechat")
    supervisor = await keys.make(Role.SUPERVISOR, owner="d01-s01-c01-sq")
    number = phone()
    who = {"name": "钱女士", "phone": number}
    matters = [
        ("property.fee", "物业费上涨"),
        ("sanitation.garbage", "垃圾清运不及时"),
        ("public.streetlight", "路灯不亮"),
        ("neighbour.dispute", "邻居占用楼道"),
    ]
    answers = []
    async with httpx.AsyncClient(timeout=10) as http:
        for category, title in matters:
            r = await http.post(
                f"{services.url('intake')}/v1/cases",
                json=case(category, title, XINGFU, petitioner=who),
                headers=channel,
            )
            assert r.status_code == 201, r.text
            answers.append(r.json())
        assert [a["key_person"] for a in answers] == [False, False, True, True]
        files = (
            await http.get(f"{services.url('intake')}/v1/key-persons", headers=supervisor)
        ).json()
        mine = next(f for f in files if answers[0]["case_id"] in {c["case_id"] for c in f["cases"]})
        assert mine["masked_phone"] == mask_phone(number) != number
        assert mine["petitions"] == 4
        assert {c["case_id"] for c in mine["cases"]} == {a["case_id"] for a in answers}
        one = await http.get(
            f"{services.url('intake')}/v1/key-persons/{mine['petitioner_ref']}", headers=supervisor
        )
        assert one.status_code == 200 and number not in one.text
        assert (
            await http.get(f"{services.url('intake')}/v1/key-persons", headers=channel)
        ).status_code == 403

    conn = await asyncpg.connect(stack.raw_database_url)
    try:
        body = await conn.fetchval(
            "SELECT body FROM intake.outbox WHERE routing_key = 'case.received' AND case_id = $1",
            answers[3]["case_id"],
        )
        assert json.loads(body)["data"]["key_person"] is True
    finally:
        await conn.close()


async def test_a_petition_transferred_from_a_superior_office_flags_a_key_person_at_once(
    services: ServiceProcs, keys: Keys
) -> None:
    superior = await keys.make(Role.CHANNEL, channel="superior_transfer")
    supervisor = await keys.make(Role.SUPERVISOR, owner="d01-s01-jd")
    who = {"name": "越级访人", "phone": phone()}
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.post(
            f"{services.url('intake')}/v1/cases",
            json=case("policy.implementation", "多次到区里上访未果", XINGFU, petitioner=who),
            headers=superior,
        )
        assert r.status_code == 201, r.text
        assert r.json()["key_person"] is True
        files = (
            await http.get(f"{services.url('intake')}/v1/key-persons", headers=supervisor)
        ).json()
        mine = next(f for f in files if r.json()["case_id"] in {c["case_id"] for c in f["cases"]})
        assert "over_the_head" in mine["reason"]


async def test_a_compound_whose_alert_stands_needs_no_lock_and_a_fresh_one_still_waits(
    services: ServiceProcs, keys: Keys, stack: StackUnderTest
) -> None:
    """Once a compound's elevator alert stands, a further complaint there neither counts
    nor takes the alert's lock: another transaction holding that lock does not hold it
    up. A compound with no alert yet still counts under the lock, so it waits."""
    channel = await keys.make(Role.CHANNEL, channel="hotline_12345")
    url = f"{services.url('intake')}/v1/cases"
    alerted, fresh = (f"t{secrets.token_hex(3)}" for _ in range(2))

    def lock(compound: str) -> str:
        return f"alert:elevator-cluster:d01.s01.c01.g01.{compound}"

    def complaint(compound: str, i: int) -> dict[str, Any]:
        where = XINGFU | {"compound": compound}
        return case("property.elevator", f"{i}号楼电梯停运", where, petitioner={"phone": phone()})

    async with httpx.AsyncClient(timeout=30) as http:
        for i in range(3):
            r = await http.post(url, json=complaint(alerted, i), headers=channel)
            assert r.status_code == 201, r.text
        place = f"d01.s01.c01.g01.{alerted}"
        count_sql = "SELECT count(*) FROM intake.alerts WHERE rule_id = $1 AND place = $2"
        assert await stack.fetchval(count_sql, "elevator-cluster", place) == 1

        holder = await asyncpg.connect(stack.raw_database_url)
        held = holder.transaction()
        await held.start()
        waiting: asyncio.Task[httpx.Response] | None = None
        try:
            for compound in (alerted, fresh):
                await holder.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", lock(compound)
                )
            fourth = await asyncio.wait_for(
                http.post(url, json=complaint(alerted, 4), headers=channel), timeout=10
            )
            assert fourth.status_code == 201, fourth.text
            waiting = asyncio.create_task(http.post(url, json=complaint(fresh, 1), headers=channel))
            await asyncio.sleep(1.0)
            assert not waiting.done()  # counting a fresh compound waits for its lock
        finally:
            await held.rollback()
            await holder.close()
        assert waiting is not None
        assert (await waiting).status_code == 201
        assert await stack.fetchval(count_sql, "elevator-cluster", place) == 1
