"""Issue 21 on the real stack: free-text work orders, the dispatchers' queue, reclassification.

The session's intake runs a model trained on tests/data/triage_sample.csv (conftest) and
the gazetteer of config/places.yaml; the router's rules are config/rules.yaml
(``triage.min_probability`` 0.8, the queue's clock 30 minutes).
"""

from __future__ import annotations

import asyncio
import re
import secrets
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.auth.keys import Role
from tests.e2e.conftest import Keys, train_sample_model
from tests.support.services import ServiceProcs
from tests.support.stack import StackUnderTest
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

XINGFU_PATH = "d01.s01.c01.g01.k01"
JINXIU_PATH = "d01.s01.c01.g02.k01"
DISTRICT, CITY, STREET2 = "d01-xfb", "city-xfj", "d01-s02-jd"


@pytest.fixture(scope="module")
async def keys(stack: StackUnderTest) -> dict[str, dict[str, str]]:
    k = Keys(stack)
    return {
        "hotline": await k.make(Role.CHANNEL, channel="hotline_12345"),
        "district": await k.make(Role.SUPERVISOR, owner=DISTRICT),
        "city": await k.make(Role.SUPERVISOR, owner=CITY),
        "street2": await k.make(Role.SUPERVISOR, owner=STREET2),
        "ops": await k.make(Role.OPS),
        "firm": await k.make(Role.DEPARTMENT, owner="wy-xingfu"),
    }


async def _submit(services: ServiceProcs, key: dict[str, str], body: dict[str, Any]) -> Any:
    body = {"external_id": f"12345-{secrets.token_hex(5)}"} | body
    async with httpx.AsyncClient(timeout=15) as http:
        resp = await http.post(f"{services.url('intake')}/v1/cases", json=body, headers=key)
    assert resp.status_code == 201, resp.text
    return resp.json()


async def _get(services: ServiceProcs, service: str, path: str, key: dict[str, str]) -> Any:
    async with httpx.AsyncClient(timeout=15) as http:
        resp = await http.get(f"{services.url(service)}{path}", headers=key)
    assert resp.status_code == 200, resp.text
    return resp.json()


async def _post(
    services: ServiceProcs, path: str, key: dict[str, str], body: dict[str, Any]
) -> httpx.Response:
    async with httpx.AsyncClient(timeout=15) as http:
        return await http.post(f"{services.url('router')}{path}", json=body, headers=key)


async def _case_in(services: ServiceProcs, case_id: str, ops: dict[str, str], *states: str) -> Any:
    async def look() -> Any:
        async with httpx.AsyncClient(timeout=15) as http:
            resp = await http.get(f"{services.url('router')}/v1/cases/{case_id}", headers=ops)
        return resp.json() if resp.status_code == 200 and resp.json()["state"] in states else None

    return await eventually(look, timeout=60, what=f"case {case_id} in {states}")


async def _queued(services: ServiceProcs, key: dict[str, str], case_id: str) -> Any:
    async def look() -> Any:
        items = (await _get(services, "router", "/v1/triage", key))["items"]
        return next((i for i in items if i["case_id"] == case_id), None)

    return await eventually(look, timeout=60, what=f"case {case_id} in the triage queue")


async def test_a_free_text_order_with_an_address_routes_by_itself_with_the_explanation(
    services: ServiceProcs, keys: dict[str, dict[str, str]]
) -> None:
    """No category, no coded location: the model's suggestion and the address decide, and
    the timeline and the routing record say how, with the model's version."""
    accepted = await _submit(services, keys["hotline"], {
        "title": "楼下饭馆油烟太大",
        "description": "市民来电反映：楼下饭馆油烟直排，熏得没法开窗，诉求：尽快解决",
        "address": "幸福里小区5号楼3单元",
    })  # fmt: skip
    case = await _case_in(services, accepted["case_id"], keys["ops"], "dispatched")
    assert case["category"] == "environment.cooking_fume"
    assert case["location"]["compound"] == XINGFU_PATH
    leads = [d["owner_id"] for d in case["dispatches"] if d["role"] == "lead"]
    assert leads == ["d01-sthj"]  # 城西区生态环境局, by the rule for cooking fumes
    triaged = next(t for t in case["timeline"] if t["action"] == "triaged")
    assert re.search(r"由模型 triage-\S+ 建议，p = (0\.9\d|1\.00)", triaged["reason"])
    assert "幸福里小区5号楼" in triaged["reason"] and "楼号范围" in triaged["reason"]
    routing = await _get(services, "router", f"/v1/cases/{accepted['case_id']}/routing",
                         keys["ops"])  # fmt: skip
    decision = routing[0]["decision"]
    assert decision["triage"]["auto"] is True
    assert decision["triage"]["model_version"].startswith("triage-")
    assert decision["triage"]["suggestions"][0]["category"] == "environment.cooking_fume"


async def test_an_unsure_order_waits_for_the_dispatcher_whose_pick_routes_it(
    services: ServiceProcs, stack: StackUnderTest, keys: dict[str, dict[str, str]]
) -> None:
    accepted = await _submit(services, keys["hotline"], {
        "title": "反映问题", "description": "有件事想反映一下，请回电", "address": "锦绣花园2号楼",
    })  # fmt: skip
    case_id = accepted["case_id"]
    item = await _queued(services, keys["district"], case_id)
    assert item["state"] == "awaiting_triage" and item["source"] == "free_text"
    assert "模型把握不足" in item["reason"]
    assert item["place"] == JINXIU_PATH and item["desk_owner_id"] == DISTRICT
    assert len(item["choices"]) == 3
    assert all(0 < c["probability"] < 0.8 for c in item["choices"])
    assert all(c["category_name"] and c["owners"] is not None for c in item["choices"])
    assert item["due_at_beijing"]  # the queue's own clock, shown in Beijing time
    # its clock runs in escalation, on the district's desk
    clock = await eventually(
        lambda: stack.fetchval(
            "SELECT owner_id FROM escalation.deadlines WHERE case_id = $1 AND kind = 'triage'"
            " AND state = 'armed'", _uuid(case_id),
        ), timeout=30, what="the triage clock",
    )  # fmt: skip
    assert clock == DISTRICT

    # the pick: an e-bike charged in the corridor, at the compound the address named
    resp = await _post(services, f"/v1/triage/{case_id}", keys["district"], {
        "category": "fire.ebike_charging", "place": JINXIU_PATH, "reason": "回电核实：楼道充电",
    })  # fmt: skip
    assert resp.status_code == 200, resp.text
    assert resp.json()["state"] == "dispatched"
    case = await _case_in(services, case_id, keys["ops"], "dispatched")
    assert case["category"] == "fire.ebike_charging"
    assert {d["owner_id"] for d in case["dispatches"]} == {"d01-xfjy", "wy-jinxiu"}
    pick = next(t for t in case["timeline"] if t["action"] == "triage")
    assert "派单员判定" in pick["reason"] and "回电核实" in pick["reason"]
    # the choice is a labelled example; the clock stopped; intake's record took the matter
    example = await stack.fetch(
        "SELECT category, source, suggested FROM router.triage_examples WHERE case_id = $1",
        _uuid(case_id),
    )
    assert [(e["category"], e["source"]) for e in example] == [("fire.ebike_charging", "triage")]
    assert example[0]["suggested"]  # the model's top guess is kept beside the person's
    await eventually(
        lambda: stack.fetchval(
            "SELECT state = 'disarmed' FROM escalation.deadlines WHERE case_id = $1"
            " AND kind = 'triage'", _uuid(case_id),
        ), timeout=30, what="the triage clock disarmed",
    )  # fmt: skip
    await eventually(
        lambda: stack.fetchval(
            "SELECT category = 'fire.ebike_charging' FROM intake.cases WHERE case_id = $1",
            _uuid(case_id),
        ), timeout=30, what="intake's record classified",
    )  # fmt: skip
    again = await _post(services, f"/v1/triage/{case_id}", keys["district"], {
        "category": "fire.ebike_charging", "place": JINXIU_PATH,
    })  # fmt: skip
    assert again.status_code == 409 and "不在待派单队列" in again.json()["detail"]


async def test_an_order_naming_no_known_place_waits_in_the_city_queue(
    services: ServiceProcs, keys: dict[str, dict[str, str]]
) -> None:
    accepted = await _submit(services, keys["hotline"], {
        "title": "路灯不亮", "description": "翠苑二区门口的路灯坏了好几天，晚上很黑",
    })  # fmt: skip
    case_id = accepted["case_id"]
    item = await _queued(services, keys["city"], case_id)
    assert "地点不明" in item["reason"] and item["place"] is None
    assert item["desk_owner_id"] == CITY
    # the district's desk does not see a case of no known place, nor may it pick it
    district_items = (await _get(services, "router", "/v1/triage", keys["district"]))["items"]
    assert case_id not in [i["case_id"] for i in district_items]
    refused = await _post(services, f"/v1/triage/{case_id}", keys["district"], {
        "category": "public.streetlight", "place": XINGFU_PATH,
    })  # fmt: skip
    assert refused.status_code == 404
    resp = await _post(services, f"/v1/triage/{case_id}", keys["city"], {
        "category": "public.streetlight", "place": XINGFU_PATH, "reason": "回电确认在幸福里",
    })  # fmt: skip
    assert resp.status_code == 200, resp.text
    case = await _case_in(services, case_id, keys["ops"], "dispatched")
    assert [d["owner_id"] for d in case["dispatches"]] == ["d01-s01-zfd"]


async def test_a_reclassification_closes_the_old_dispatches_and_routes_again(
    services: ServiceProcs, stack: StackUnderTest, keys: dict[str, dict[str, str]]
) -> None:
    accepted = await _submit(services, keys["hotline"], {
        "category": "property.repair", "title": "楼道灯不亮",
        "description": "幸福里小区7号楼楼道灯坏了",
        "location": {"district": "d01", "street": "s01", "community": "c01", "grid": "g01",
                     "compound": "k01"},
    })  # fmt: skip
    case_id = accepted["case_id"]
    before = await _case_in(services, case_id, keys["ops"], "dispatched")
    old = [d["dispatch_id"] for d in before["dispatches"]]
    resp = await _post(services, f"/v1/cases/{case_id}/reclassify", keys["district"], {
        "category": "public.streetlight", "reason": "实为小区门口路灯，属城管",
    })  # fmt: skip
    assert resp.status_code == 200, resp.text
    after = await _case_in(services, case_id, keys["ops"], "dispatched")
    states = {d["dispatch_id"]: d["state"] for d in after["dispatches"]}
    assert all(states[d] == "cancelled" for d in old)
    live = [d for d in after["dispatches"] if d["state"] != "cancelled"]
    assert [d["owner_id"] for d in live] == ["d01-s01-zfd"]
    row = next(t for t in after["timeline"] if t["action"] == "reclassify")
    assert "公共部位维修" in row["reason"] and "路灯损坏" in row["reason"]
    assert "属城管" in row["reason"]
    sources = await stack.fetch(
        "SELECT source FROM router.triage_examples WHERE case_id = $1", _uuid(case_id)
    )
    assert [s["source"] for s in sources] == ["reclassify"]


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"category": "no.such", "place": XINGFU_PATH}, 422, "不在分类表"),
        ({"category": "unclassified", "place": XINGFU_PATH}, 422, "不在分类表"),
        ({"category": "public.streetlight", "place": "d01..s01"}, 422, ""),
        ({"category": "public.streetlight", "place": "x" * 300}, 422, ""),
        ({"category": "public.streetlight", "place": XINGFU_PATH, "extra": 1}, 422, ""),
    ],
)
async def test_a_bad_pick_is_refused_and_changes_nothing(
    services: ServiceProcs, keys: dict[str, dict[str, str]], body: dict[str, Any], status: int,
    words: str,
) -> None:  # fmt: skip
    accepted = await _submit(services, keys["hotline"], {
        "title": "反映问题", "description": "有件事想反映一下", "address": "幸福里小区1号楼",
    })  # fmt: skip
    case_id = accepted["case_id"]
    await _queued(services, keys["district"], case_id)
    resp = await _post(services, f"/v1/triage/{case_id}", keys["district"], body)
    assert resp.status_code == status, resp.text
    assert words in resp.text
    still = await _queued(services, keys["district"], case_id)
    assert still["state"] == "awaiting_triage"


async def test_who_may_use_the_queue(
    services: ServiceProcs, keys: dict[str, dict[str, str]]
) -> None:
    accepted = await _submit(services, keys["hotline"], {
        "title": "反映问题", "description": "有件事想反映一下", "address": "幸福里小区2号楼",
    })  # fmt: skip
    case_id = accepted["case_id"]
    await _queued(services, keys["district"], case_id)
    pick = {"category": "public.streetlight", "place": XINGFU_PATH, "reason": "x"}
    for who, status in (("firm", 403), ("hotline", 403), ("ops", 403), ("street2", 404)):
        resp = await _post(services, f"/v1/triage/{case_id}", keys[who], pick)
        assert resp.status_code == status, (who, resp.text)
    street2_items = (await _get(services, "router", "/v1/triage", keys["street2"]))["items"]
    assert case_id not in [i["case_id"] for i in street2_items]
    # a place outside the dispatcher's own area is refused
    street_key = keys["street2"]
    other = await _submit(services, keys["hotline"], {
        "title": "反映问题", "description": "有件事想反映一下", "address": "和平里小区2号楼",
    })  # fmt: skip
    await _queued(services, street_key, other["case_id"])
    outside = await _post(services, f"/v1/triage/{other['case_id']}", street_key, pick)
    assert outside.status_code == 403 and "辖区" in outside.json()["detail"]


async def test_a_newer_model_file_is_taken_without_a_restart(
    services: ServiceProcs, keys: dict[str, dict[str, str]], tmp_path: Path
) -> None:
    models = Path(services.env_extra["SHAOBAO_TRIAGE_MODELS_DIR"])

    def train_another() -> tuple[set[str], Path]:
        before = {p.name for p in models.glob("*.joblib")}
        train_sample_model(models)
        return before, sorted(models.glob("triage-*.joblib"))[-1]

    before, newest = await asyncio.to_thread(train_another)
    assert newest.name not in before
    version = newest.stem

    async def routed_by_new_model() -> Any:
        accepted = await _submit(services, keys["hotline"], {
            "title": "流浪狗咬人", "description": "小区里流浪狗咬伤了孩子",
            "address": "幸福里小区3号楼",
        })  # fmt: skip
        case = await _case_in(services, accepted["case_id"], keys["ops"], "dispatched")
        triaged = next(t for t in case["timeline"] if t["action"] == "triaged")
        return triaged if version in triaged["reason"] else None

    row = await eventually(routed_by_new_model, timeout=60, what="the new model in force")
    assert f"由模型 {version} 建议" in row["reason"]


def _uuid(value: str) -> Any:
    from uuid import UUID

    return UUID(value)


async def test_a_return_naming_the_right_matter_is_kept_as_an_example(
    services: ServiceProcs, stack: StackUnderTest, keys: dict[str, dict[str, str]]
) -> None:
    accepted = await _submit(services, keys["hotline"], {
        "category": "property.repair", "title": "门口路灯坏了",
        "description": "幸福里小区门口路灯坏了", "address": "幸福里小区",
        "location": {"district": "d01", "street": "s01", "community": "c01", "grid": "g01",
                     "compound": "k01"},
    })  # fmt: skip
    case = await _case_in(services, accepted["case_id"], keys["ops"], "dispatched")
    lead = next(d for d in case["dispatches"] if d["role"] == "lead")
    assert lead["owner_id"] == "wy-xingfu"
    refused = await _post(services, f"/v1/dispatches/{lead['dispatch_id']}/return", keys["firm"], {
        "reason_code": "not_our_jurisdiction", "note": "市政路灯", "suggested_category": "no.such",
    })  # fmt: skip
    assert refused.status_code == 422 and "分类表" in refused.text
    resp = await _post(services, f"/v1/dispatches/{lead['dispatch_id']}/return", keys["firm"], {
        "reason_code": "not_our_jurisdiction", "note": "市政路灯，不属物业",
        "suggested_category": "public.streetlight",
    })  # fmt: skip
    assert resp.status_code == 200, resp.text
    rows = await stack.fetch(
        "SELECT category, source, actor FROM router.triage_examples WHERE case_id = $1",
        _uuid(accepted["case_id"]),
    )
    assert [(r["category"], r["source"]) for r in rows] == [("public.streetlight", "return")]


async def test_train_from_cases_learns_the_human_choices(
    services: ServiceProcs, stack: StackUnderTest, keys: dict[str, dict[str, str]],
    tmp_path: Path,
) -> None:  # fmt: skip
    """Two picks of two matters make two labelled examples; `triage train --from-cases`
    reads them (and closed cases) from the router and writes a model of those classes."""
    for category, words in (("neighbour.dispute", "甲"), ("sanitation.garbage", "乙")):
        accepted = await _submit(services, keys["hotline"], {
            "title": "反映问题", "description": f"有件事想反映一下（{words}）",
            "address": "幸福里小区4号楼",
        })  # fmt: skip
        await _queued(services, keys["district"], accepted["case_id"])
        resp = await _post(services, f"/v1/triage/{accepted['case_id']}", keys["district"], {
            "category": category, "place": XINGFU_PATH, "reason": "回电核实",
        })  # fmt: skip
        assert resp.status_code == 200, resp.text
    proc = await asyncio.create_subprocess_exec(
        "uv", "run", "--frozen", "shaobao", "triage", "train", "--from-cases", "--since", "1d",
        "--out", str(tmp_path),
        env=stack.env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode == 0, err.decode()
    assert "模型已保存" in out.decode() and "人工判定" in err.decode()
    sidecar = await asyncio.to_thread(
        lambda: next(tmp_path.glob("triage-*.json")).read_text(encoding="utf-8")
    )
    assert '"neighbour.dispute"' in sidecar and '"sanitation.garbage"' in sidecar
    assert '"unclassified"' not in sidecar
    # neither or both sources is a usage error, and nothing is written
    bad = await asyncio.create_subprocess_exec(
        "uv", "run", "--frozen", "shaobao", "triage", "train", "--out", str(tmp_path / "x"),
        env=stack.env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, bad_err = await asyncio.wait_for(bad.communicate(), timeout=60)
    assert bad.returncode == 2 and "--from-cases" in bad_err.decode()


async def test_a_batch_of_free_text_orders_is_triaged_case_by_case(
    services: ServiceProcs, keys: dict[str, dict[str, str]]
) -> None:
    cases = [
        {"external_id": f"12345-{secrets.token_hex(5)}", "title": "楼道里电动车充电",
         "description": "楼道里有人给电动车充电，太危险了", "address": "锦绣花园3号楼"},
        {"external_id": f"12345-{secrets.token_hex(5)}", "title": "反映问题",
         "description": "有件事想反映一下", "address": "锦绣花园3号楼"},
    ]  # fmt: skip
    async with httpx.AsyncClient(timeout=30) as http:
        resp = await http.post(
            f"{services.url('intake')}/v1/cases/batch", json={"cases": cases},
            headers=keys["hotline"],
        )  # fmt: skip
    assert resp.status_code == 200, resp.text
    ids = [item["case"]["case_id"] for item in resp.json()["results"]]
    first = await _case_in(services, ids[0], keys["ops"], "dispatched")
    assert first["category"] == "fire.ebike_charging"
    await _case_in(services, ids[1], keys["ops"], "awaiting_triage")
