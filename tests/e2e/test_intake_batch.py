"""POST /v1/cases/batch: a platform forwarding in bulk, on the real stack.

Each case of a batch is a submission as if alone (same numbers, same duplicate rules,
same group commit); the batch is refused whole on bad input, and a retried batch is
answered from what was recorded.
"""

from __future__ import annotations

import json
import secrets
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

LONG = "楼道里电动车充电，插线板从窗户拉出来，晚上一直有人充，担心起火。" * 20  # ~700 bytes


def _batch(n: int, prefix: str) -> list[dict[str, Any]]:
    kinds = [
        ("property.elevator", "电梯停运", XINGFU),
        ("fire.ebike_charging", "楼道电动车充电", HEPINGLI),
        ("environment.cooking_fume", "油烟扰民", XINGFU),
    ]
    out = []
    for i in range(n):
        category, title, where = kinds[i % len(kinds)]
        out.append(
            case(category, f"{title} {i}", where, petitioner={"phone": phone()})
            | {"external_id": f"{prefix}-{i:04d}", "description": f"{LONG}（第 {i} 件）"}
        )
    return out


async def _count(stack: StackUnderTest, sql: str, values: list[str]) -> int:
    return int(await stack.fetchval(sql, values))


async def _lead_dispatches(stack: StackUnderTest, case_ids: list[str]) -> int:
    return await _count(
        stack,
        "SELECT count(*) FROM router.dispatches WHERE case_id = ANY($1::uuid[]) AND role = 'lead'",
        case_ids,
    )


async def _refs_recorded(stack: StackUnderTest, refs: list[str]) -> int:
    return await _count(
        stack, "SELECT count(*) FROM intake.case_refs WHERE ref = ANY($1::text[])", refs
    )


async def test_a_batch_is_recorded_case_by_case_dispatched_and_safe_to_send_again(
    services: ServiceProcs, keys: Keys, stack: StackUnderTest
) -> None:
    hotline = await keys.make(Role.CHANNEL, channel="hotline_12345")
    url = f"{services.url('intake')}/v1/cases"
    prefix = f"P{secrets.token_hex(3)}"
    cases = _batch(120, prefix)
    async with httpx.AsyncClient(timeout=60) as http:
        # five of them came in alone first (the same numbers): those are replays in the batch
        for c in cases[:5]:
            assert (await http.post(url, json=c, headers=hotline)).status_code == 201
        alone = {
            c["external_id"]: (
                await http.get(
                    f"{services.url('intake')}/v1/refs/hotline_12345/{c['external_id']}",
                    headers=hotline,
                )
            ).json()["case_id"]
            for c in cases[:5]
        }
        body = {"cases": cases}
        r = await http.post(f"{url}/batch", json=body, headers=hotline)
        assert r.status_code == 200, r.text
        answer = r.json()
        assert len(r.request.content) > 64 * 1024  # over a single request's body limit
        assert [x["index"] for x in answer["results"]] == list(range(120))
        assert [x["status_code"] for x in answer["results"]] == [200] * 5 + [201] * 115
        assert (answer["accepted"], answer["replayed"]) == (115, 5)
        ids = [x["case"]["case_id"] for x in answer["results"]]
        assert ids[:5] == [alone[c["external_id"]] for c in cases[:5]]
        assert len(set(ids)) == 120

        async def all_dispatched() -> bool:
            return await _lead_dispatches(stack, ids) == 120

        await eventually(all_dispatched, timeout=60, what="every case of the batch dispatched")

        again = await http.post(f"{url}/batch", json=body, headers=hotline)
        assert again.status_code == 200, again.text
        assert [x["status_code"] for x in again.json()["results"]] == [200] * 120
        assert [x["case"]["case_id"] for x in again.json()["results"]] == ids
        assert again.json()["accepted"] == 0
    assert await _refs_recorded(stack, [c["external_id"] for c in cases]) == 120
    assert await _lead_dispatches(stack, ids) == 120  # the retry dispatched nothing twice


@pytest.mark.parametrize(
    ("spoil", "status", "reason"),
    [
        (lambda c: c.pop("external_id"), 422, "第 7 件缺少 external_id"),
        (lambda c: c.update(channel="wechat"), 403, "第 7 件"),
        (lambda c: c.update(category="Not A Category"), 422, "cases"),
        (lambda c: c.update(mediated_on_site=True, mediation_outcome="已调解"), 422, "第 7 件"),
        (  # an id the channel never uploaded (unknown and another's answer alike)
            lambda c: c.update(attachments=["0" * 64]),
            422,
            "第 7 件：附件 000000000000… 不存在或不是本方上传的，请先上传 (unknown attachment) (cases[7])",
        ),
    ],
)
async def test_one_bad_case_refuses_the_whole_batch_and_records_nothing(
    services: ServiceProcs,
    keys: Keys,
    stack: StackUnderTest,
    spoil: Any,
    status: int,
    reason: str,
) -> None:
    hotline = await keys.make(Role.CHANNEL, channel="hotline_12345")
    cases = _batch(12, f"B{secrets.token_hex(3)}")
    spoil(cases[7])
    async with httpx.AsyncClient(timeout=30) as http:
        r = await http.post(
            f"{services.url('intake')}/v1/cases/batch", json={"cases": cases}, headers=hotline
        )
    assert r.status_code == status, r.text
    assert reason in r.text
    refs = [c["external_id"] for c in cases if "external_id" in c]
    assert await _refs_recorded(stack, refs) == 0


async def test_batch_limits_answer_with_reasons(
    services: ServiceProcs, keys: Keys, stack: StackUnderTest
) -> None:
    hotline = await keys.make(Role.CHANNEL, channel="hotline_12345")
    ops = await keys.make(Role.OPS)
    url = f"{services.url('intake')}/v1/cases/batch"
    async with httpx.AsyncClient(timeout=30) as http:
        empty = await http.post(url, json={"cases": []}, headers=hotline)
        assert empty.status_code == 422
        too_many = await http.post(url, json={"cases": _batch(501, "T")}, headers=hotline)
        assert too_many.status_code == 422, too_many.text
        assert "at most 500 cases" in too_many.text
        huge = await http.post(
            url,
            content=b'{"cases": [' + b" " * (5 * 1024 * 1024) + b"]}",
            headers=hotline | {"content-type": "application/json"},
        )
        assert huge.status_code == 413
        assert "body too large" in huge.text
        refused = await http.post(url, json={"cases": _batch(2, "O")}, headers=ops)
        assert refused.status_code == 403
    assert await _refs_recorded(stack, ["T-0000", "O-0000"]) == 0


async def test_cases_of_one_batch_see_each_other_as_if_sent_one_by_one(
    services: ServiceProcs, keys: Keys, stack: StackUnderTest
) -> None:
    """One transaction reads and writes its submissions together (intake's unit of
    work), yet each decision is the one it would be alone, in order: a person's third
    petition flags them, their repeat of the first matter links to it, a number sent
    twice is a replay, and another person is untouched."""
    wechat = await keys.make(Role.CHANNEL, channel="wechat")
    prefix = f"U{secrets.token_hex(3)}"
    person, other = {"name": "钱女士", "phone": phone()}, {"phone": phone()}
    here = XINGFU | {"compound": f"t{secrets.token_hex(3)}"}  # a place no other test counts
    sent = [
        case("property.fee", "物业费上涨", here, petitioner=person),
        case("sanitation.garbage", "垃圾清运不及时", here, petitioner=person),
        case("property.elevator", "电梯停运", here, petitioner=other),
        case("public.streetlight", "路灯不亮", here, petitioner=person),
        case("property.fee", "物业费又涨了", here, petitioner=person),  # the first matter
        case("public.streetlight", "路灯还是不亮", here, petitioner=person),
    ]
    numbers = [0, 1, 2, 3, 4, 1]  # the last resends the second's number
    body = {
        "cases": [c | {"external_id": f"{prefix}-{n}"} for c, n in zip(sent, numbers, strict=True)]
    }
    async with httpx.AsyncClient(timeout=30) as http:
        r = await http.post(f"{services.url('intake')}/v1/cases/batch", json=body, headers=wechat)
    assert r.status_code == 200, r.text
    rows = r.json()["results"]
    assert [x["status_code"] for x in rows] == [201, 201, 201, 201, 201, 200]
    got = [x["case"] for x in rows]
    assert [c["created"] for c in got] == [True, True, True, True, False, False]
    assert [c["key_person"] for c in got] == [False, False, False, True, True, False]
    assert got[4]["case_id"] == got[0]["case_id"] == got[4]["duplicate_of"]
    assert got[5]["case_id"] == got[1]["case_id"]
    ids = [c["case_id"] for c in got[:4]]
    assert len(set(ids)) == 4
    assert await _refs_recorded(stack, [f"{prefix}-{n}" for n in range(5)]) == 5
    assert (
        await _count(
            stack,
            "SELECT count(*) FROM intake.case_refs WHERE ref = ANY($1::text[]) AND linked",
            [f"{prefix}-4"],
        )
        == 1
    )

    async def four_dispatched() -> bool:
        return await _lead_dispatches(stack, ids) == 4

    await eventually(four_dispatched, timeout=30, what="the four cases dispatched, once each")


async def test_an_alert_tipped_inside_one_batch_is_raised_once_with_the_cases_before_it(
    services: ServiceProcs, keys: Keys, stack: StackUnderTest
) -> None:
    """Five elevator complaints from five people in one new compound, in one batch (one
    transaction): the third tips the cluster rule (3 in a compound in 30 days), so its
    alert names exactly the first three, as when they came one by one, and the fourth and
    fifth raise it no more; the fifth person tips the collective rule (5 petitioners in 3
    days)."""
    hotline = await keys.make(Role.CHANNEL, channel="hotline_12345")
    compound = f"t{secrets.token_hex(3)}"
    where = XINGFU | {"compound": compound}
    place = f"d01.s01.c01.g01.{compound}"
    prefix = f"A{secrets.token_hex(3)}"
    body = {
        "cases": [
            case("property.elevator", f"{i}号楼电梯停运", where, petitioner={"phone": phone()})
            | {"external_id": f"{prefix}-{i}"}
            for i in range(5)
        ]
    }
    async with httpx.AsyncClient(timeout=30) as http:
        r = await http.post(f"{services.url('intake')}/v1/cases/batch", json=body, headers=hotline)
    assert r.status_code == 200, r.text
    ids = [x["case"]["case_id"] for x in r.json()["results"]]
    rows = await stack.fetch(
        "SELECT body FROM intake.outbox WHERE routing_key = 'alert.raised'"
        " AND convert_from(body, 'UTF8')::jsonb->'data'->>'place' = $1",
        place,
    )
    linked = await stack.fetchval(
        "SELECT count(*) FROM intake.cases WHERE channel = 'early_warning' AND compound = $1",
        place,
    )
    raised = {a["rule_id"]: a for a in (json.loads(b["body"])["data"] for b in rows)}
    assert len(rows) == len(raised) == 2  # each rule once
    cluster, collective = (
        raised["elevator-cluster"],
        raised["collective-property/property.elevator"],
    )
    assert (cluster["case_count"], cluster["case_ids"]) == (3, ids[:3])
    assert (collective["case_count"], collective["case_ids"]) == (5, ids)  # 5 people
    # no firm serves a new compound, so nobody is convened and no linked handling opens
    assert (cluster["convene"], linked) == ([], 0)
