"""Intake's pure rules: duplicate suggestions, alert thresholds as data, key persons."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.domain.errors import ConfigError
from shared.domain.intake_rules import (
    SIMILARITY_CHARS,
    AlertRule,
    DuplicatePolicy,
    IntakePolicy,
    KeyPersonPolicy,
    convene_owners,
    is_key_person,
    places,
    same_matter,
    shingles,
    similarity,
    suggested_duplicates,
    window_start,
)
from shared.domain.owners import OwnerDirectory, OwnerKind

ROOT = Path(__file__).resolve().parents[2]
XINGFU = {"district": "d01", "street": "s01", "community": "c01", "grid": "g01", "compound": "k01"}


def test_the_shipped_alerts_file_loads_with_the_elevator_rule() -> None:
    policy = IntakePolicy.load(ROOT / "config" / "alerts.yaml")
    rule = next(r for r in policy.alerts if r.id == "elevator-cluster")
    assert (rule.threshold, rule.window_days, rule.level) == (3, 30, "compound")
    assert DuplicatePolicy().petitioner_window_days == 30  # the rule's default
    assert policy.key_persons.petitions == 3


def test_rules_match_category_patterns() -> None:
    policy = IntakePolicy.from_text(
        "alerts:\n"
        "  - {id: a, category: property.elevator, threshold: 3, window_days: 30}\n"
        "  - {id: b, category: 'property.*', threshold: 5, window_days: 3, kind: collective}\n"
    )
    # a collective rule is counted per category family (issue 22): b/<category>
    assert [r.id for r in policy.rules_for("property.elevator")] == ["a", "b/property.elevator"]
    assert [r.id for r in policy.rules_for("property.fee")] == ["b/property.fee"]
    assert policy.rules_for("fire.ebike_charging") == []


@pytest.mark.parametrize(
    "text",
    [
        "alerts:\n  - {id: a, category: x, threshold: 1, window_days: 30}\n",
        "alerts:\n  - {id: a, category: x, threshold: 3, window_days: 30, level: city}\n",
        "alerts:\n  - {id: a, category: x, threshold: 3, window_days: 3}\n"
        "  - {id: a, category: y, threshold: 3, window_days: 3}\n",
        "duplicates: {similarity_threshold: 2}\n",
        "surprise: 1\n",
    ],
)
def test_a_bad_alerts_file_is_refused_with_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError):
        IntakePolicy.from_text(text)


def test_cluster_rules_count_cases_and_collective_rules_count_people() -> None:
    cluster = AlertRule(id="c", category="property.elevator", threshold=3, window_days=30)
    group = AlertRule(id="g", category="housing.*", threshold=5, window_days=3, kind="collective")
    assert cluster.reached(cases=3, petitioners=1)
    assert not cluster.reached(cases=2, petitioners=2)
    assert not group.reached(cases=9, petitioners=4)
    assert group.reached(cases=5, petitioners=5)


def test_a_collective_rule_counts_one_category_family_at_a_time() -> None:
    """Issue 22 point 10: elevator and fee complaints are two matters, never one 集体访."""
    text = (
        "alerts:\n"
        "  - {id: c, category: property.elevator, threshold: 3, window_days: 30}\n"
        "  - {id: g, category: 'property.*', threshold: 5, window_days: 3, kind: collective}\n"
    )
    policy = IntakePolicy.from_text(text)
    lift = {r.id: r for r in policy.rules_for("property.elevator")}
    fee = {r.id: r for r in policy.rules_for("property.fee")}
    assert set(lift) == {"c", "g/property.elevator"} and set(fee) == {"g/property.fee"}
    assert lift["g/property.elevator"].matches("property.elevator")
    assert not lift["g/property.elevator"].matches("property.fee")
    assert fee["g/property.fee"].like_pattern() == "property.fee"


def test_places_are_full_paths_of_every_level() -> None:
    where = places(XINGFU)
    assert where["compound"] == "d01.s01.c01.g01.k01"
    assert where["grid"] == "d01.s01.c01.g01"
    assert where["community"] == "d01.s01.c01"


def test_similar_anonymous_texts_are_suggested_best_first_and_others_not() -> None:
    policy = DuplicatePolicy(similarity_threshold=0.8)
    mine = "3号楼电梯停运\n电梯停运两天，老人无法下楼。"
    candidates = [
        ("same", "3号楼电梯停运\n电梯停运两天，老人无法下楼！"),
        ("other", "小区门口垃圾堆积\n垃圾三天没人清运"),
    ]
    hits = suggested_duplicates(mine, candidates, policy)
    assert [h[0] for h in hits] == ["same"]
    assert hits[0][1] >= 0.8


def test_similarity_is_one_for_the_same_text_symmetric_and_zero_for_unrelated_text() -> None:
    a, b = "垃圾站满溢无人清运", "垃圾站满溢没有人清运"
    assert similarity(a, a) == 1.0
    assert similarity(a, b) == similarity(b, a) > 0.6
    assert similarity(a, "广场舞音响扰民") == 0.0
    assert similarity("", "") == 1.0 and similarity("", a) == 0.0


def test_only_the_first_characters_of_a_long_text_are_compared() -> None:
    """Bounded: what lies past SIMILARITY_CHARS changes no score."""
    rng = random.Random(7)
    head = "".join(rng.choice("电梯停运楼道垃圾噪音充电油烟老人") for _ in range(SIMILARITY_CHARS))
    tail_a = "".join(rng.choice("甲乙丙丁") for _ in range(3000))
    tail_b = "".join(rng.choice("子丑寅卯") for _ in range(3000))
    assert similarity(head + tail_a, head + tail_b) == 1.0
    assert shingles(head + tail_a) == shingles(head)


def test_long_look_alike_texts_cost_milliseconds_not_seconds() -> None:
    """The case of issue 17: texts of a few characters repeated, where difflib's ratio is
    quadratic (13 s for two 5,000-character texts). 50 candidates of 5,200 characters."""
    rng = random.Random(3)
    texts = ["".join(rng.choice("电梯停运老人") for _ in range(5200)) for _ in range(51)]
    started = time.perf_counter()
    hits = suggested_duplicates(texts[0], list(enumerate(texts[1:])), DuplicatePolicy())
    assert time.perf_counter() - started < 0.5
    assert len(hits) == 50  # they are look-alikes: all suggested


@pytest.mark.parametrize("threshold", [0.5, 0.7, 0.8, 0.9])
def test_suggestions_are_the_candidates_at_or_above_the_threshold_best_first(
    threshold: float,
) -> None:
    rng = random.Random(11)
    words = ["电梯", "停运", "楼道", "充电", "油烟", "噪音", "垃圾", "3号楼", "，", "。", "老人"]
    mine = "".join(rng.choice(words) for _ in range(30))
    candidates = []
    for i in range(400):
        text = list(mine)
        for _ in range(rng.randint(0, 40)):  # edits: from a near copy to another text
            text[rng.randrange(len(text))] = rng.choice("楼梯电车充油烟垃圾噪")
        candidates.append((i, "".join(text)))
    policy = DuplicatePolicy(similarity_threshold=threshold)
    full = [(i, round(similarity(mine, t), 3)) for i, t in candidates]
    expected = sorted([(i, s) for i, s in full if s >= threshold], key=lambda h: -h[1])
    assert expected  # the sample has hits and misses at every threshold
    assert len(expected) < len(candidates)
    assert suggested_duplicates(mine, candidates, policy) == expected


def test_three_petitions_in_the_window_make_a_key_person() -> None:
    policy = KeyPersonPolicy()
    assert not is_key_person(2, policy)
    assert is_key_person(3, policy)
    now = datetime(2026, 11, 23, tzinfo=UTC)
    assert window_start(now, 365) == now - timedelta(days=365)


def test_the_elevator_alert_convenes_the_compounds_property_firm_and_maintenance_unit() -> None:
    owners = OwnerDirectory.load(ROOT / "config" / "owners.yaml")
    rule = AlertRule(
        id="e",
        category="property.elevator",
        threshold=3,
        window_days=30,
        convene=(OwnerKind.PROPERTY_FIRM, OwnerKind.MAINTENANCE_UNIT),
    )
    assert [o.id for o in convene_owners(rule, XINGFU, owners)] == ["wy-xingfu", "wb-anda"]


def test_alert_category_patterns_translate_to_like_so_the_store_can_count() -> None:
    from shared.domain.intake_rules import AlertRule

    def like(pattern: str) -> str | None:
        return AlertRule(id="r", category=pattern, threshold=3, window_days=3).like_pattern()

    assert like("housing.*") == "housing.%"
    assert like("property.elevator") == "property.elevator"
    assert like("fire.?bike") == "fire._bike"
    assert like("a_b%c") == "a\\_b\\%c"  # LIKE's own wildcards are escaped
    assert like("fire.[ab]*") is None  # a set has no LIKE form: the rows are read instead


def test_the_same_matter_is_the_same_category_family_at_the_same_place() -> None:
    here = places(XINGFU)
    there = places(XINGFU | {"compound": "k02"})
    community = places({"district": "d01", "street": "s01", "community": "c01"})
    assert same_matter("property.elevator", here, "property.leak", here)
    assert not same_matter("property.elevator", here, "neighbour.dispute", here)
    assert not same_matter("property.elevator", here, "property.elevator", there)
    assert not same_matter("property.elevator", community, "property.elevator", here)
    assert same_matter("property.elevator", community, "property.elevator", community)
    assert not same_matter("property.elevator", places({}), "property.elevator", places({}))
