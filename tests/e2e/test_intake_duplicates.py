"""One case, many numbers: a matter reported by 12345 and the street platform is one case."""

from __future__ import annotations

import asyncio
import secrets
import shutil
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from shared.auth.keys import Role
from tests.e2e.conftest import Keys
from tests.e2e.intake_helpers import XINGFU, case, phone
from tests.support.services import ROOT, ServiceProcs
from tests.support.stack import StackUnderTest
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
async def linking_intake(
    services: ServiceProcs, stack: StackUnderTest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A second intake replica with same-petitioner linking on (30 days), on the same stack.

    The shipped config has it off while the shared fixture reuses one phone (see alerts.yaml).
    """
    config = tmp_path_factory.mktemp("linking-config")
    shutil.copy(ROOT / "config" / "rules.yaml", config / "rules.yaml")
    text = (ROOT / "config" / "alerts.yaml").read_text(encoding="utf-8")
    (config / "alerts.yaml").write_text(
        text.replace("petitioner_window_days: 0", "petitioner_window_days: 30"), encoding="utf-8"
    )
    procs = ServiceProcs(
        stack=stack,
        log_dir=services.log_dir,
        env_extra={"SHAOBAO_RULES_FILE": str(config / "rules.yaml")},
    )
    procs.start("intake")
    try:
        await procs.wait_ready("intake")
        yield procs.url("intake")
    finally:
        procs.stop_all()


async def _router_case(
    http: httpx.AsyncClient, services: ServiceProcs, ops: dict[str, str], case_id: str, action: str
) -> dict[str, Any] | None:
    r = await http.get(f"{services.url('router')}/v1/cases/{case_id}", headers=ops)
    if r.status_code != 200:
        return None
    body = r.json()
    return body if action in {t["action"] for t in body["timeline"]} else None


async def test_same_matter_from_12345_and_the_street_platform_is_one_case_with_two_numbers(
    services: ServiceProcs, keys: Keys, stack: StackUnderTest, linking_intake: str
) -> None:
    hotline = await keys.make(Role.CHANNEL, channel="hotline_12345")
    street = await keys.make(Role.CHANNEL, channel="grid_app")
    wechat = await keys.make(Role.CHANNEL, channel="wechat")
    ops = await keys.make(Role.OPS)
    url = f"{services.url('intake')}/v1/cases"
    n12345, nstreet = f"12345-{secrets.token_hex(4)}", f"JD-{secrets.token_hex(4)}"
    who = {"name": "赵先生", "phone": phone()}
    matter = case("property.elevator", "5号楼电梯困人", XINGFU, petitioner=who)
    async with httpx.AsyncClient(timeout=10) as http:
        first = await http.post(url, json=matter | {"external_id": n12345}, headers=hotline)
        assert first.status_code == 201, first.text
        case_id = first.json()["case_id"]
        assert first.json()["duplicate_of"] is None
        await eventually(
            lambda: _router_case(http, services, ops, case_id, "dispatched"), what="dispatched"
        )

        again = matter | {
            "external_id": nstreet,
            "petitioner": None,
            "related_refs": [{"channel": "hotline_12345", "ref": n12345}],
        }
        linked = await http.post(url, json=again, headers=street)
        assert linked.status_code == 201, linked.text
        assert linked.json()["case_id"] == linked.json()["duplicate_of"] == case_id
        assert linked.json()["created"] is False
        replay = await http.post(url, json=again, headers=street)
        assert replay.status_code == 200
        assert replay.json()["duplicate_of"] == case_id

        by_person = await http.post(f"{linking_intake}/v1/cases", json=matter, headers=wechat)
        assert by_person.status_code == 201
        assert by_person.json()["duplicate_of"] == case_id

        seen = await http.get(f"{url}/{case_id}", headers=hotline)
        assert seen.status_code == 200
        refs = {(r["channel"], r["ref"], r["linked"]) for r in seen.json()["refs"]}
        assert refs == {("hotline_12345", n12345, False), ("grid_app", nstreet, True)}
        assert seen.json()["duplicates_linked"] == 2
        by_number = await http.get(
            f"{services.url('intake')}/v1/refs/grid_app/{nstreet}", headers=street
        )
        assert by_number.status_code == 200 and by_number.json()["case_id"] == case_id
        stranger = await keys.make(Role.CHANNEL, channel="walk_in")
        assert (await http.get(f"{url}/{case_id}", headers=stranger)).status_code == 404

        async def two_duplicate_rows() -> dict[str, Any] | None:
            body = await _router_case(http, services, ops, case_id, "duplicate_linked")
            rows = [
                t for t in (body or {}).get("timeline", []) if t["action"] == "duplicate_linked"
            ]
            return body if len(rows) == 2 else None

        routed = await eventually(two_duplicate_rows, what="two duplicate_linked timeline rows")
        assert len([d for d in routed["dispatches"] if d["role"] == "lead"]) == 1

    conn = await asyncpg.connect(stack.raw_database_url)
    try:
        received = await conn.fetchval(
            "SELECT count(*) FROM intake.outbox WHERE routing_key = 'case.received' AND case_id = $1",
            case_id,
        )
        assert received == 1
        assert (
            await conn.fetchval("SELECT count(*) FROM router.cases WHERE case_id = $1", case_id)
            == 1
        )
    finally:
        await conn.close()


async def test_concurrent_reports_by_one_petitioner_make_one_case(
    keys: Keys, linking_intake: str
) -> None:
    channels = ["hotline_12345", "grid_app", "wechat", "walk_in", "superior_transfer"]
    heads = [await keys.make(Role.CHANNEL, channel=c) for c in channels]
    matter = case("environment.cooking_fume", "楼下餐馆油烟", XINGFU, petitioner={"phone": phone()})
    async with httpx.AsyncClient(timeout=10) as http:
        answers = await asyncio.gather(
            *(
                http.post(
                    f"{linking_intake}/v1/cases",
                    json=matter | {"external_id": f"N-{secrets.token_hex(4)}"},
                    headers=h,
                )
                for h in heads
            )
        )
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["case_id"] for a in answers}) == 1
    assert sum(a.json()["created"] for a in answers) == 1
    assert sum(a.json()["duplicate_of"] is not None for a in answers) == len(heads) - 1


async def test_anonymous_lookalikes_are_only_suggested_never_linked(
    services: ServiceProcs, keys: Keys
) -> None:
    channel = await keys.make(Role.CHANNEL, channel="wechat")
    where = XINGFU | {"compound": f"k{secrets.token_hex(3)}"}
    url = f"{services.url('intake')}/v1/cases"
    async with httpx.AsyncClient(timeout=10) as http:
        a = await http.post(
            url, json=case("sanitation.garbage", "垃圾站满溢无人清运", where), headers=channel
        )
        b = await http.post(
            url, json=case("sanitation.garbage", "垃圾站满溢没有人清运", where), headers=channel
        )
        c = await http.post(
            url, json=case("sanitation.garbage", "广场舞音响扰民到深夜", where), headers=channel
        )
        assert (a.status_code, b.status_code, c.status_code) == (201, 201, 201)
        first = a.json()["case_id"]
        assert b.json()["case_id"] != first and b.json()["duplicate_of"] is None
        assert b.json()["suggested_duplicates"] == [first]
        assert c.json()["suggested_duplicates"] == []
        stored = await http.get(f"{url}/{b.json()['case_id']}", headers=channel)
        assert stored.json()["suggested_duplicates"] == [first]


async def test_patrol_findings_mediated_on_the_spot_are_stored_closed_and_not_dispatched(
    services: ServiceProcs, keys: Keys, stack: StackUnderTest
) -> None:
    patrol = await keys.make(Role.CHANNEL, channel="grid_patrol")
    window = await keys.make(Role.CHANNEL, channel="walk_in")
    url = f"{services.url('intake')}/v1/cases"
    finding = case(
        "neighbour.dispute",
        "邻里漏水纠纷",
        XINGFU,
        mediated_on_site=True,
        mediation_outcome="双方同意由楼上住户维修，当场和解",
    )
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.post(url, json=finding, headers=patrol)
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "closed"
        case_id = r.json()["case_id"]
        seen = (await http.get(f"{url}/{case_id}", headers=patrol)).json()
        assert seen["status_detail"]["close_kind"] == "mediated_on_site"
        no_outcome = finding | {"mediation_outcome": None}
        assert (await http.post(url, json=no_outcome, headers=patrol)).status_code == 422
        assert (await http.post(url, json=finding, headers=window)).status_code == 422

        walk_in = case("public.streetlight", "路灯不亮", XINGFU, received_by="窗口-陈")
        w = await http.post(url, json=walk_in, headers=window)
        shown = (await http.get(f"{url}/{w.json()['case_id']}", headers=window)).json()
        assert shown["received_by"] == "窗口-陈"
    conn = await asyncpg.connect(stack.raw_database_url)
    try:
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM intake.outbox WHERE routing_key = 'case.received' AND case_id = $1",
                case_id,
            )
            == 0
        )
    finally:
        await conn.close()
