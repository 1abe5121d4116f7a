"""The shipped default configuration, end to end: each field scenario of the seed documents,
posted through intake, reaches the expected owners with the expected tier and clocks.

The expected owners are written by hand from ``config/rules.yaml`` and ``config/owners.yaml``
(never computed with ``route()``), so that a routing regression fails here. Every case is
posted at once and then awaited, so the whole table costs about as much as one case.

The sample city (owners.yaml):
    幸福里小区 xingfu     d01.s01.c01.g01.k01  物业 wy-xingfu, 维保 wb-anda
    锦绣花园   jinxiu     d01.s01.c01.g02.k01  物业 wy-jinxiu, 维保 wb-anda
    光明小区   guangming  d01.s01.c02.g01.k01  老旧小区：无物业、无维保
    和平里小区 hepingli   d01.s02.c01.g01.k01  物业 wy-jinxiu, 维保 wb-hengtong
新华街道 d01.s01 has its own city-management team (d01-s01-zfd); 和平街道 d01.s02 has none.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from shared.auth.keys import Role
from shared.domain.calendar import WorkingCalendar
from shared.domain.deadlines import due_at
from shared.domain.rules import DeadlineSpec
from tests.e2e.conftest import Keys
from tests.support.services import ServiceProcs
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CALENDAR = WorkingCalendar.load(ROOT / "config" / "calendar")
TOLERANCE = timedelta(seconds=2)
CHINESE = re.compile(r"[\u4e00-\u9fff]")
PETITION_BUREAUS = {"d01-xfb", "city-xfj"}

PLACES: dict[str, dict[str, str]] = {
    "xingfu": {"district": "d01", "street": "s01", "community": "c01", "grid": "g01", "compound": "k01"},
    "jinxiu": {"district": "d01", "street": "s01", "community": "c01", "grid": "g02", "compound": "k01"},
    "guangming": {"district": "d01", "street": "s01", "community": "c02", "grid": "g01", "compound": "k01"},
    "hepingli": {"district": "d01", "street": "s02", "community": "c01", "grid": "g01", "compound": "k01"},
}  # fmt: skip


@dataclass(frozen=True)
class Scenario:
    """One case as a channel submits it, and where the shipped rules must send it."""

    name: str
    category: str
    place: str
    urgency: str  # as submitted; the rule's urgency may raise it
    rule_id: str | None
    tier: str
    lead: str | None  # None: the case must end disputed, with no dispatch
    co_handlers: tuple[str, ...] = ()
    acknowledge: str = "1wd"  # by the effective urgency: 15m / 30m / 1wd
    resolve: str = "5wd"  # by tier: simple 24h, complex 5wd, difficult 15wd
    progress: str | None = "2wd"  # keep in touch: complex 2wd, difficult 5wd, simple none

    @property
    def disputed(self) -> bool:
        return self.lead is None


DIFFICULT = {"tier": "difficult", "resolve": "15wd", "progress": "5wd"}
SIMPLE = {"tier": "simple", "resolve": "24h", "progress": None}

SCENARIOS: list[Scenario] = [
    # --- the field scenarios (seed ch.4) -------------------------------------------------
    Scenario("elevator_outage", "property.elevator", "xingfu", "normal", "elevator-outage",
             "complex", "wy-xingfu", ("wb-anda",), acknowledge="30m"),
    Scenario("elevator_outage_emergency_keeps_its_own_urgency", "property.elevator", "hepingli",
             "emergency", "elevator-outage", "complex", "wy-jinxiu", ("wb-hengtong",),
             acknowledge="15m"),
    Scenario("elevator_outage_old_compound_without_property_firm", "property.elevator",
             "guangming", "urgent", "elevator-outage", "complex", "d01-s01-c02-sq",
             acknowledge="30m"),
    Scenario("cooking_fume", "environment.cooking_fume", "xingfu", "normal", "cooking-fume",
             "complex", "d01-sthj"),
    Scenario("stray_dog_bite", "animal.stray_dog", "xingfu", "urgent", "stray-dog-bite",
             "complex", "d01-cgw", ("d01-nync", "d01-ybj"), acknowledge="30m"),
    Scenario("ebike_charging", "fire.ebike_charging", "jinxiu", "normal", "ebike-charging",
             "complex", "d01-xfjy", ("wy-jinxiu",), acknowledge="30m"),
    Scenario("group_rental_known_dispute", "housing.group_rental", "xingfu", "normal",
             "group-rental", lead=None, **DIFFICULT),
    Scenario("delivery_risk", "housing.delivery_risk", "jinxiu", "normal", "delivery-risk",
             lead="d01-zjw", co_handlers=("d01-s01-jd",), **DIFFICULT),
    # --- the four plan categories: neighbour, property, family, policy ------------------
    Scenario("neighbour_dispute", "neighbour.dispute", "xingfu", "normal", "neighbour-matters",
             "complex", "d01-s01-c01-sq", ("d01-s01-sfs",)),
    Scenario("neighbour_dispute_in_hepingli_goes_to_the_mediation_studio", "neighbour.dispute",
             "hepingli", "normal", "neighbour-dispute-heping", "complex", "d01-s02-c01-tjs",
             ("d01-s02-c01-sq",)),
    Scenario("renovation_noise_in_hepingli", "neighbour.renovation_noise", "hepingli", "normal",
             "neighbour-matters", "complex", "d01-s02-c01-sq", ("d01-s02-sfs",)),
    Scenario("high_altitude_throwing", "neighbour.high_altitude_throwing", "hepingli", "normal",
             "high-altitude-throwing", "complex", "d01-s02-pcs", ("wy-jinxiu",),
             acknowledge="30m"),
    Scenario("property_fee", "property.fee", "xingfu", "normal", "property-matters", "complex",
             "wy-xingfu"),
    Scenario("property_fee_old_compound_without_property_firm", "property.fee", "guangming",
             "normal", "property-matters", "complex", "d01-s01-c02-sq"),
    Scenario("family_dispute", "family.dispute", "xingfu", "normal", "family-matters", "complex",
             "d01-s01-c01-sq", ("d01-s01-sfs",)),
    Scenario("family_violence", "family.violence", "xingfu", "normal", "family-violence",
             "complex", "d01-s01-pcs", ("d01-s01-c01-sq",), acknowledge="15m"),
    Scenario("policy_implementation", "policy.implementation", "hepingli", "normal",
             "policy-implementation", "complex", "d01-s02-jd", ("d01-s02-c01-sq",)),
    Scenario("elevator_retrofit", "policy.elevator_retrofit", "guangming", "normal",
             "elevator-retrofit", lead="d01-zjw", co_handlers=("d01-s01-jd",), **DIFFICULT),
    # --- simple matters: 24 h -----------------------------------------------------------
    Scenario("garbage", "sanitation.garbage", "xingfu", "normal", "garbage", lead="wy-xingfu",
             **SIMPLE),
    Scenario("garbage_old_compound_goes_to_street_city_management", "sanitation.garbage",
             "guangming", "normal", "garbage", lead="d01-s01-zfd", **SIMPLE),
    Scenario("streetlight", "public.streetlight", "xingfu", "normal", "streetlight",
             lead="d01-s01-zfd", **SIMPLE),
    Scenario("streetlight_in_heping_street_goes_to_the_street_office", "public.streetlight",
             "hepingli", "normal", "streetlight-heping", lead="d01-s02-jd", **SIMPLE),
    # --- no rule: nobody owns it, so the whistle must blow ------------------------------
    Scenario("unknown_category", "misc.unknown_thing", "xingfu", "normal", None, lead=None,
             **DIFFICULT),
]  # fmt: skip
BY_NAME = {s.name: s for s in SCENARIOS}
DISPATCHED = [s for s in SCENARIOS if not s.disputed]
DISPUTED = [s for s in SCENARIOS if s.disputed]


@dataclass(frozen=True)
class Posted:
    case_id: str
    case: dict[str, Any]  # GET /v1/cases/{id} once routing has settled


@pytest.fixture(scope="module")
async def ops(keys: Keys) -> dict[str, str]:
    return await keys.make(Role.OPS)


@pytest.fixture(scope="module")
async def posted(services: ServiceProcs, keys: Keys, ops: dict[str, str]) -> dict[str, Posted]:
    """Every scenario posted through intake at once, then awaited until routed."""
    channel = await keys.make(Role.CHANNEL, channel="hotline_12345")
    run = secrets.token_hex(4)
    async with httpx.AsyncClient(timeout=30) as http:

        async def submit(s: Scenario) -> str:
            body = {
                "external_id": f"scn-{run}-{s.name}"[:64],
                "category": s.category,
                "title": f"场景：{s.name}",
                "description": f"默认场景端到端测试（{s.category}）。",
                "location": PLACES[s.place],
                "urgency": s.urgency,
            }
            r = await http.post(f"{services.url('intake')}/v1/cases", json=body, headers=channel)
            assert r.status_code == 201, f"{s.name}: {r.status_code} {r.text}"
            return str(r.json()["case_id"])

        ids = await asyncio.gather(*(submit(s) for s in SCENARIOS))
        case_ids = dict(zip((s.name for s in SCENARIOS), ids, strict=True))

        async def settled(name: str) -> Posted:
            async def probe() -> dict[str, Any] | None:
                r = await http.get(
                    f"{services.url('router')}/v1/cases/{case_ids[name]}", headers=ops
                )
                if r.status_code != 200:
                    return None
                case = r.json()
                # a dispute nobody can be convened for moves on to the dispatchers' queue
                settled_states = {"dispatched", "disputed", "awaiting_triage"}
                return case if case["state"] in settled_states else None

            case = await eventually(probe, timeout=60, what=f"case {name} routed")
            return Posted(case_ids[name], case)

        done = await asyncio.gather(*(settled(n) for n in case_ids))
    return dict(zip(case_ids, done, strict=True))


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _expected_due(created: datetime, spec_text: str) -> datetime:
    spec = DeadlineSpec.model_validate(spec_text)
    fixed = spec.as_timedelta()
    if fixed is not None:
        return created + fixed
    return due_at(CALENDAR, created, spec)


def _assert_due(what: str, actual: str | None, created: datetime, spec_text: str) -> None:
    assert actual is not None, f"{what}: no deadline, expected {spec_text}"
    expected = _expected_due(created, spec_text)
    got = _at(actual)
    assert abs(got - expected) <= TOLERANCE, (
        f"{what}: due {got.isoformat()}, expected {expected.isoformat()} "
        f"({spec_text} from {created.isoformat()}; off by {got - expected})"
    )


@pytest.mark.parametrize("scenario", DISPATCHED, ids=lambda s: s.name)
async def test_scenario_reaches_the_expected_lead_and_co_handlers(
    posted: dict[str, Posted], scenario: Scenario
) -> None:
    case = posted[scenario.name].case
    assert case["state"] == "dispatched", case
    assert case["rule_id"] == scenario.rule_id
    assert case["tier"] == scenario.tier
    assert case["category"] == scenario.category
    leads = [d["owner_id"] for d in case["dispatches"] if d["role"] == "lead"]
    co = sorted(d["owner_id"] for d in case["dispatches"] if d["role"] == "co_handler")
    assert leads == [scenario.lead]
    assert co == sorted(scenario.co_handlers)
    assert len(case["dispatches"]) == 1 + len(scenario.co_handlers), "one dispatch per owner"
    assert all(d["state"] == "pending" for d in case["dispatches"])


@pytest.mark.parametrize("scenario", DISPATCHED, ids=lambda s: s.name)
async def test_every_dispatch_carries_the_cases_ruleset_version(
    posted: dict[str, Posted], scenario: Scenario
) -> None:
    case = posted[scenario.name].case
    version = case["ruleset_version"]
    assert version and version.startswith("2026.1+"), version  # file version + hash of bytes
    assert [d["ruleset_version"] for d in case["dispatches"]] == [version] * len(case["dispatches"])
    rows = {t["action"]: t for t in case["timeline"]}
    assert [t["action"] for t in case["timeline"]][:3] == ["received", "triaged", "dispatched"]
    assert rows["triaged"]["rule_version"] == rows["dispatched"]["rule_version"] == version


@pytest.mark.parametrize("scenario", DISPATCHED, ids=lambda s: s.name)
async def test_dispatch_deadlines_follow_the_rule_and_the_working_day_calendar(
    posted: dict[str, Posted], scenario: Scenario
) -> None:
    for d in posted[scenario.name].case["dispatches"]:
        who = f"{scenario.name}/{d['owner_id']}"
        created = _at(d["created_at"])
        _assert_due(f"{who} acknowledge", d["acknowledge_due_at"], created, scenario.acknowledge)
        _assert_due(f"{who} resolve", d["resolve_due_at"], created, scenario.resolve)
        if scenario.progress is None:
            assert d["progress_due_at"] is None, f"{who}: simple tier has no progress clock"
        else:
            _assert_due(f"{who} progress", d["progress_due_at"], created, scenario.progress)


@pytest.mark.parametrize("scenario", DISPUTED, ids=lambda s: s.name)
async def test_a_matter_nobody_owns_is_disputed_without_dispatch_and_says_why_in_chinese(
    posted: dict[str, Posted], scenario: Scenario
) -> None:
    case = posted[scenario.name].case
    # disputed, then (nobody to convene for a matter no rule knows) the dispatchers' queue
    assert case["state"] in ("disputed", "awaiting_triage"), case
    assert case["dispatches"] == []
    assert case["rule_id"] == scenario.rule_id
    assert case["tier"] == scenario.tier
    actions = [t["action"] for t in case["timeline"]]
    assert actions[:3] == ["received", "triaged", "disputed"], actions
    assert "dispatched" not in actions
    row = next(t for t in case["timeline"] if t["action"] == "disputed")
    assert row["to_state"] == "disputed"
    assert row["reason"] and CHINESE.search(row["reason"]), row
    assert row["rule_version"] == case["ruleset_version"]
    if scenario.rule_id:
        assert scenario.rule_id in row["reason"], "the reason names the dispute rule"


async def test_no_scenario_is_sent_to_the_petition_office(posted: dict[str, Posted]) -> None:
    """Market matters and every other covered matter go to their owners (seed ch.1.3)."""
    sent = {d["owner_id"] for p in posted.values() for d in p.case["dispatches"]}
    assert sent, "some scenario was dispatched"
    assert not sent & PETITION_BUREAUS


async def test_routing_explanation_names_the_chosen_rule_and_why_others_lost(
    services: ServiceProcs, posted: dict[str, Posted], ops: dict[str, str]
) -> None:
    case_id = posted["elevator_outage"].case_id
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.get(f"{services.url('router')}/v1/cases/{case_id}/routing", headers=ops)
    assert r.status_code == 200, r.text
    [stored] = r.json()
    decision = stored["decision"]
    assert stored["ruleset_version"] == posted["elevator_outage"].case["ruleset_version"]
    assert decision["matched_rule_id"] == "elevator-outage"
    assert decision["lead_owner_id"] == "wy-xingfu"
    assert decision["co_handler_ids"] == ["wb-anda"]
    explanation = {c["rule_id"]: c for c in decision["explanation"]}
    chosen = [c for c in decision["explanation"] if c["outcome"] == "chosen"]
    assert [c["rule_id"] for c in chosen] == ["elevator-outage"]
    assert "category=property.elevator" in chosen[0]["matched_fields"]
    # property.* also matches the case but is a broader category: it loses, and says so.
    loser = explanation["property-matters"]
    assert loser["outcome"] == "less_specific"
    assert "elevator-outage" in loser["detail"] and CHINESE.search(loser["detail"])
    # rules of other categories were looked at too, and are accounted for.
    assert explanation["cooking-fume"]["outcome"] == "category_mismatch"
    assert len(explanation) == len(decision["explanation"])  # each rule once


def test_the_scenario_table_covers_every_rule_in_the_shipped_file() -> None:
    """A new rule in config/rules.yaml needs a row here (read, not routed)."""
    shipped = {
        r["id"] for r in yaml.safe_load((ROOT / "config" / "rules.yaml").read_text())["rules"]
    }
    covered = {s.rule_id for s in SCENARIOS if s.rule_id}
    assert shipped == covered, f"missing: {shipped - covered}; stale: {covered - shipped}"
    assert len(BY_NAME) == len(SCENARIOS), "scenario names are unique"
