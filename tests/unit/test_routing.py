"""Routing with the shipped rules: the seed scenarios, most-specific-wins, explanations."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shared.domain.errors import ConfigError
from shared.domain.owners import OwnerDirectory
from shared.domain.routing import (
    DeadlineSpec,
    Location,
    Outcome,
    RoutingDecision,
    RuleSet,
    Tier,
    Urgency,
    explain_text,
    route,
)

CONFIG = Path(__file__).resolve().parents[2] / "config"
XINGFULI = Location(district="d01", street="s01", community="c01", grid="g01", compound="k01")
JINXIU = Location(compound="d01.s01.c01.g02.k01")  # 锦绣花园
GUANGMING = Location(compound="d01.s01.c02.g01.k01")  # 光明小区: old, no property firm
HEPINGLI = Location(compound="d01.s02.c01.g01.k01")  # 和平里小区


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return RuleSet.load(CONFIG / "rules.yaml")


@pytest.fixture(scope="module")
def owners() -> OwnerDirectory:
    return OwnerDirectory.load(CONFIG / "owners.yaml")


Go = Callable[..., RoutingDecision]


@pytest.fixture
def go(rules: RuleSet, owners: OwnerDirectory) -> Go:
    def _go(category: str, location: Location = XINGFULI, **kw: Any) -> RoutingDecision:
        return route(rules, owners, category=category, location=location, **kw)

    return _go


def test_the_shipped_rules_name_only_owners_in_the_directory(
    rules: RuleSet, owners: OwnerDirectory
) -> None:
    rules.check_owners(owners)
    assert rules.version.startswith("2026.1+")


# --- seed scenarios (chapter 4) -----------------------------------------------------------------
def test_elevator_outage_goes_to_the_property_firm_with_the_maintenance_unit(go: Go) -> None:
    d = go("property.elevator")
    assert (d.matched_rule_id, d.lead_owner_id, d.co_handler_ids) == (
        "elevator-outage", "wy-xingfu", ["wb-anda"]
    )  # fmt: skip
    assert (d.tier, d.urgency, d.disputed) == (Tier.COMPLEX, Urgency.URGENT, False)
    assert (str(d.acknowledge_within), str(d.resolve_within), str(d.keep_in_touch)) == (
        "30m", "5wd", "2wd"
    )  # fmt: skip
    assert d.owner_names["wy-xingfu"] == "幸福物业服务有限公司"


def test_a_linked_handling_adds_the_community_office_that_convenes_it(go: Go) -> None:
    d = go("property.elevator", community_convenes=True)
    assert (d.lead_owner_id, d.co_handler_ids) == ("wy-xingfu", ["wb-anda", "d01-s01-c01-sq"])
    assert d.owner_names["d01-s01-c01-sq"]
    assert go("property.elevator").co_handler_ids == ["wb-anda"]  # an ordinary case: no


def test_elevator_outage_follows_the_firm_of_each_compound(go: Go) -> None:
    d = go("property.elevator", HEPINGLI)
    assert (d.lead_owner_id, d.co_handler_ids) == ("wy-jinxiu", ["wb-hengtong"])


def test_an_old_compound_without_a_firm_falls_back_to_its_community(go: Go) -> None:
    d = go("property.elevator", GUANGMING)
    assert (d.lead_owner_id, d.co_handler_ids) == ("d01-s01-c02-sq", [])
    chosen = next(c for c in d.explanation if c.matched)
    assert any("物业服务企业" in n for n in chosen.notes)
    assert any("电梯维保单位" in n for n in chosen.notes)


def test_cooking_fumes_go_to_ecology_environment(go: Go) -> None:
    d = go("environment.cooking_fume", HEPINGLI)
    assert (d.lead_owner_id, d.co_handler_ids, d.tier) == ("d01-sthj", [], Tier.COMPLEX)


def test_a_return_reroutes_to_the_rules_alternate(go: Go) -> None:
    assert (
        go("environment.cooking_fume", exclude_owners={"d01-sthj"}).lead_owner_id == "d01-s01-zfd"
    )
    d = go("environment.cooking_fume", HEPINGLI, exclude_owners={"d01-sthj"})
    assert d.lead_owner_id == "d01-cgw" and d.excluded_owners == ["d01-sthj"]


def test_a_stray_dog_bite_is_led_by_city_management_with_two_co_handlers(go: Go) -> None:
    d = go("animal.stray_dog")
    assert (d.lead_owner_id, d.co_handler_ids) == ("d01-cgw", ["d01-nync", "d01-ybj"])
    assert d.urgency is Urgency.URGENT


def test_ebike_charging_is_led_by_the_fire_brigade_with_the_property_firm(go: Go) -> None:
    d = go("fire.ebike_charging", JINXIU)
    assert (d.lead_owner_id, d.co_handler_ids) == ("d01-xfjy", ["wy-jinxiu"])


def test_group_rental_is_a_known_dispute_that_whistles(go: Go) -> None:
    d = go("housing.group_rental")
    assert d.disputed and (d.lead_owner_id, d.co_handler_ids) == ("d01-s01-zfd", ["d01-zjw"])
    assert d.tier is Tier.DIFFICULT and str(d.resolve_within) == "15wd"
    assert d.reason and "职责争议" in d.reason


@pytest.mark.parametrize(
    ("category", "location", "lead", "co"),
    [
        ("neighbour.dispute", XINGFULI, "d01-s01-c01-sq", ["d01-s01-sfs"]),
        ("neighbour.renovation_noise", HEPINGLI, "d01-s02-c01-sq", ["d01-s02-sfs"]),
        ("property.fee", XINGFULI, "wy-xingfu", []),
        ("property.water_leak", HEPINGLI, "wy-jinxiu", []),
        ("family.dispute", XINGFULI, "d01-s01-c01-sq", ["d01-s01-sfs"]),
        ("policy.implementation", HEPINGLI, "d01-s02-jd", ["d01-s02-c01-sq"]),
        ("policy.elevator_retrofit", GUANGMING, "d01-zjw", ["d01-s01-jd"]),
        ("neighbour.high_altitude_throwing", XINGFULI, "d01-s01-pcs", ["wy-xingfu"]),
        ("housing.delivery_risk", HEPINGLI, "d01-zjw", ["d01-s02-jd"]),
    ],
)
def test_the_plan_categories_reach_their_owners(
    go: Go, category: str, location: Location, lead: str, co: list[str]
) -> None:
    d = go(category, location)
    assert (d.lead_owner_id, d.co_handler_ids, d.disputed) == (lead, co, False)


def test_market_matters_go_to_their_owners_not_the_petition_office(
    go: Go, owners: OwnerDirectory
) -> None:
    for category in ("property.fee", "property.elevator", "property.repair"):
        kind = owners.get(go(category).lead_owner_id).kind
        assert kind.value == "property_firm", category


def test_simple_matters_get_24_hours_and_no_progress_clock(go: Go) -> None:
    d = go("sanitation.garbage")
    assert (d.lead_owner_id, d.tier, str(d.resolve_within), d.keep_in_touch) == (
        "wy-xingfu", Tier.SIMPLE, "24h", None
    )  # fmt: skip
    assert str(d.acknowledge_within) == "1wd"
    assert go("sanitation.garbage", GUANGMING).lead_owner_id == "d01-s01-zfd"


def test_family_violence_is_an_emergency_for_the_police(go: Go) -> None:
    d = go("family.violence", HEPINGLI)
    assert (d.lead_owner_id, d.urgency, str(d.acknowledge_within)) == (
        "d01-s02-pcs", Urgency.EMERGENCY, "15m"
    )  # fmt: skip


# --- precedence ----------------------------------------------------------------------------------
def test_a_place_specific_rule_beats_a_district_wide_one(go: Go) -> None:
    d = go("neighbour.dispute", HEPINGLI)
    assert (d.matched_rule_id, d.lead_owner_id) == ("neighbour-dispute-heping", "d01-s02-c01-tjs")
    loser = next(c for c in d.explanation if c.rule_id == "neighbour-matters")
    assert loser.outcome is Outcome.LESS_SPECIFIC and "地点范围" in loser.detail


def test_an_exact_category_beats_a_prefix(go: Go) -> None:
    d = go("property.elevator")
    loser = next(c for c in d.explanation if c.rule_id == "property-matters")
    assert loser.outcome is Outcome.LESS_SPECIFIC and "property.*" in loser.detail


def test_a_street_rule_applies_only_inside_its_street(go: Go) -> None:
    assert go("public.streetlight", HEPINGLI).lead_owner_id == "d01-s02-jd"
    d = go("public.streetlight", XINGFULI)
    assert d.lead_owner_id == "d01-s01-zfd"
    heping = next(c for c in d.explanation if c.rule_id == "streetlight-heping")
    assert heping.outcome is Outcome.LOCATION_MISMATCH


def test_a_more_urgent_case_keeps_its_urgency_and_a_calmer_one_gets_the_rules(go: Go) -> None:
    assert go("property.elevator", urgency=Urgency.EMERGENCY).urgency is Urgency.EMERGENCY
    assert go("property.elevator", urgency=Urgency.NORMAL).urgency is Urgency.URGENT


# --- nobody by rule: the whistle --------------------------------------------------------------
def test_an_unknown_category_has_no_lead_and_says_why(go: Go, rules: RuleSet) -> None:
    d = go("weather.too_hot")
    assert d.lead_owner_id is None and d.matched_rule_id is None
    assert d.reason and "未知分类" in d.reason and d.tier is Tier.DIFFICULT
    assert len(d.explanation) == len(rules.rules)
    assert {c.outcome for c in d.explanation} == {Outcome.CATEGORY_MISMATCH}


def test_a_rule_whose_lead_cannot_be_found_loses_with_a_reason(go: Go) -> None:
    d = go("property.fee", Location(district="d01"))
    assert d.lead_owner_id is None
    assert {c.outcome for c in d.explanation if c.rule_id == "property-matters"} == {
        Outcome.LEAD_UNRESOLVABLE
    }
    assert d.reason and "无可用主办单位" in d.reason


def test_when_every_candidate_has_returned_nobody_is_left(go: Go) -> None:
    d = go("environment.cooking_fume", exclude_owners={"d01-sthj", "d01-s01-zfd"})
    assert d.lead_owner_id is None and d.co_handler_ids == []


def test_an_excluded_owner_is_never_a_co_handler(go: Go) -> None:
    d = go("animal.stray_dog", exclude_owners={"d01-ybj"})
    assert d.co_handler_ids == ["d01-nync"]


# --- explanation ---------------------------------------------------------------------------------
def test_the_explanation_covers_every_rule_and_the_text_names_winner_and_losers(
    go: Go, rules: RuleSet
) -> None:
    d = go("neighbour.dispute", HEPINGLI)
    assert [c.rule_id for c in d.explanation] == [r.id for r in rules.rules]
    text = explain_text(d)
    assert "命中规则 neighbour-dispute-heping" in text and "community=d01.s02.c01" in text
    assert "和平里“老街坊”调解工作室" in text and "✗ neighbour-matters [less_specific]" in text
    assert "分类不符" in text and d.ruleset_version in text


def test_explain_text_of_no_match_says_there_is_no_rule(go: Go) -> None:
    assert "未命中任何规则" in explain_text(go("weather.too_hot"))


def test_a_decision_round_trips_through_json(go: Go) -> None:
    d = go("animal.stray_dog")
    assert RoutingDecision.model_validate(d.model_dump(mode="json")) == d


def test_both_location_spellings_mean_the_same_place() -> None:
    assert Location(compound="d01.s01.c01.g01.k01") == XINGFULI
    assert XINGFULI.path() == "d01.s01.c01.g01.k01" and XINGFULI.specificity == 5


@pytest.mark.parametrize(
    "bad", [{"compound": "k01"}, {"district": "d01", "street": "d02.s01"}, {"grid": "a.b"}]
)
def test_a_location_whose_levels_disagree_is_refused(bad: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        Location(**bad)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15m", {"minutes": 15}),
        ("24h", {"hours": 24}),
        ("3d", {"days": 3}),
        ("5wd", {"working_days": 5}),
    ],
)
def test_durations_are_written_short_or_long(text: str, expected: dict[str, int]) -> None:
    spec = DeadlineSpec.model_validate(text)
    assert spec == DeadlineSpec(**expected) and str(spec) == text


def test_a_duration_has_exactly_one_unit() -> None:
    with pytest.raises(ValueError):
        DeadlineSpec(hours=1, minutes=5)
    assert DeadlineSpec(working_days=5).as_timedelta() is None


# --- bad rules files -----------------------------------------------------------------------------
GOOD_RULES = """\
version: "t1"
categories:
  a.b: 甲乙
  a.c: 甲丙
acknowledge: {emergency: 15m, urgent: 30m, normal: {working_days: 1}}
tiers:
  simple: {resolve_within: 24h}
  complex: {resolve_within: 5wd, keep_in_touch: 2wd}
  difficult: {resolve_within: 15wd}
rules:
  - id: first
    category: a.*
    lead: $community
    tier: simple
  - id: second
    category: a.b
    street: d01.s01
    lead: someone
    tier: complex
"""


def _rules_error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        RuleSet.from_text(text, file="rules.yaml")
    return info.value


def test_the_minimal_good_rules_file_loads() -> None:
    rules = RuleSet.from_text(GOOD_RULES)
    assert [r.id for r in rules.rules] == ["first", "second"]
    assert rules.rule("second").where.path() == "d01.s01"


def test_a_bad_tier_names_the_file_rule_field_and_line() -> None:
    err = _rules_error(GOOD_RULES.replace("tier: complex", "tier: hard"))
    assert (err.file, err.entry, err.field, err.line) == ("rules.yaml", "second", "tier", 19)
    assert str(err).startswith("rules.yaml:19 · 条目 second · 字段 tier:")


def test_an_unknown_owner_kind_reference_is_refused() -> None:
    err = _rules_error(GOOD_RULES.replace("lead: $community", "lead: $wizard"))
    assert (err.entry, err.field, err.line) == ("first", "lead", 13)
    assert "$property_firm" in err.problem


def test_an_owner_id_missing_from_the_directory_is_refused(owners: OwnerDirectory) -> None:
    with pytest.raises(ConfigError) as info:
        RuleSet.from_text(GOOD_RULES, file="rules.yaml").check_owners(owners)
    assert (info.value.entry, info.value.field, info.value.line) == ("second", "lead", 18)


def test_a_category_outside_the_taxonomy_is_refused() -> None:
    err = _rules_error(GOOD_RULES.replace("category: a.b", "category: a.x"))
    assert (err.entry, err.field) == ("second", "category") and "unknown category" in err.problem


def test_a_bare_wildcard_is_not_a_category() -> None:
    err = _rules_error(GOOD_RULES.replace("category: a.*", "category: '*'"))
    assert (err.entry, err.field) == ("first", "category")


def test_two_rules_for_the_same_category_and_place_are_refused() -> None:
    text = (
        GOOD_RULES
        + "  - id: third\n    category: a.b\n    street: d01.s01\n    lead: x\n    tier: simple\n"
    )
    err = _rules_error(text)
    assert (err.entry, err.field, err.line) == ("third", "category", 21) and "second" in err.problem


def test_a_duplicate_rule_id_is_refused() -> None:
    err = _rules_error(GOOD_RULES.replace("id: second", "id: first"))
    assert (err.entry, err.field) == ("first", "id") and "duplicate" in err.problem


def test_a_place_whose_levels_disagree_is_refused() -> None:
    err = _rules_error(
        GOOD_RULES.replace("street: d01.s01", "street: d01.s01\n    community: d02.s01.c01")
    )
    assert err.entry == "second" and "d01.s01" in err.problem


def test_a_missing_tier_is_refused() -> None:
    err = _rules_error(GOOD_RULES.replace("  difficult: {resolve_within: 15wd}\n", ""))
    assert err.entry == "tiers" and "difficult" in err.problem


def test_a_bad_duration_names_where_it_is() -> None:
    err = _rules_error(GOOD_RULES.replace("resolve_within: 24h", "resolve_within: soon"))
    assert err.entry == "tiers" and err.field and err.field.startswith("simple.resolve_within")
    assert err.line == 7


def test_an_unknown_rule_field_is_refused() -> None:
    err = _rules_error(GOOD_RULES.replace("    tier: simple\n", "    tier: simple\n    owner: x\n"))
    assert (err.entry, err.field) == ("first", "owner")


def test_a_rule_without_an_id_is_named_by_position() -> None:
    err = _rules_error(GOOD_RULES.replace("  - id: second\n", "  - note: no id\n"))
    assert (err.entry, err.field) == ("#2", "id")


def test_the_version_changes_with_the_content() -> None:
    one = RuleSet.from_text(GOOD_RULES).version
    two = RuleSet.from_text(GOOD_RULES.replace("甲乙", "甲乙二")).version
    assert one.startswith("t1+") and two.startswith("t1+") and one != two
