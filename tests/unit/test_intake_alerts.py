"""Intake's early-warning rules without I/O: which (rule, place) a case counts toward and
locks, which still need counting, and the alert a window's cases raise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

from shared.domain.intake_alerts import (
    WindowCase,
    alert_places,
    lock_keys,
    opens_linked_handling,
    raised_alert,
    rules_to_count,
    window_since,
)
from shared.domain.intake_rules import AlertRule, IntakePolicy, places
from shared.domain.owners import OwnerDirectory, OwnerKind

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)
XINGFU = {"district": "d01", "street": "s01", "community": "c01", "grid": "g01", "compound": "k01"}
WHERE = places(XINGFU)
ELEVATOR = AlertRule(
    id="elevator", category="property.elevator", threshold=3, window_days=7,
    convene=(OwnerKind.PROPERTY_FIRM, OwnerKind.MAINTENANCE_UNIT),
)  # fmt: skip
GRID = AlertRule(id="grid", category="property.*", level="grid", threshold=5, window_days=30)
POLICY = IntakePolicy(alerts=(ELEVATOR, GRID))


def _rows(
    n: int, category: str = "property.elevator", people: int | None = None
) -> list[WindowCase]:
    return [
        WindowCase(uuid4(), category, f"p{i % (people or n)}", NOW - timedelta(hours=n - i))
        for i in range(n)
    ]


def test_a_case_counts_toward_each_rule_of_its_category_at_the_rules_level() -> None:
    assert alert_places(POLICY, "property.elevator", WHERE) == [
        ("elevator", WHERE["compound"]),
        ("grid", WHERE["grid"]),
    ]
    assert alert_places(POLICY, "property.repair", WHERE) == [("grid", WHERE["grid"])]
    assert alert_places(POLICY, "property.elevator", places({"district": "d01"})) == []


def test_a_window_whose_alert_stands_is_neither_locked_nor_counted() -> None:
    pairs = alert_places(POLICY, "property.elevator", WHERE)
    standing = {("elevator", str(WHERE["compound"])): NOW + timedelta(days=1)}
    assert lock_keys(pairs, NOW, standing) == [f"alert:grid:{WHERE['grid']}"]
    assert [r.id for r, _ in rules_to_count(POLICY, "property.elevator", WHERE, standing, NOW)] == [
        "grid"
    ]
    ended = {("elevator", str(WHERE["compound"])): NOW}  # its window is over: count again
    assert len(lock_keys(pairs, NOW, ended)) == 2


def test_a_window_starts_after_the_last_one_alerted() -> None:
    assert window_since(ELEVATOR, NOW, None) == NOW - timedelta(days=7)
    assert window_since(ELEVATOR, NOW, NOW - timedelta(days=1)) == NOW - timedelta(days=1)
    assert window_since(ELEVATOR, NOW, NOW - timedelta(days=30)) == NOW - timedelta(days=7)


def test_the_threshold_raises_one_alert_naming_the_windows_cases_and_owners() -> None:
    owners = OwnerDirectory.load(ROOT / "config" / "owners.yaml")
    assert raised_alert(ELEVATOR, "k01", _rows(2), XINGFU, owners, uuid4()) is None
    rows = [*_rows(3), WindowCase(uuid4(), "property.water", "px", NOW)]
    alert = raised_alert(ELEVATOR, "k01", rows, XINGFU, owners, uuid4())
    assert alert is not None
    assert alert.case_ids == [r.case_id for r in rows[:3]]  # the other category is not counted
    assert (alert.window_start, alert.window_end) == (
        rows[0].received_at,
        rows[0].received_at + timedelta(days=7),
    )
    assert [o.owner_id for o in alert.convene] == ["wy-xingfu", "wb-anda"]
    assert opens_linked_handling(alert)


def test_a_collective_rule_counts_petitioners_and_opens_no_linked_handling() -> None:
    group = AlertRule(id="g", category="housing.*", threshold=3, window_days=3, kind="collective")
    assert (
        raised_alert(group, "k01", _rows(5, "housing.fee", people=2), XINGFU, None, uuid4()) is None
    )
    alert = raised_alert(group, "k01", _rows(5, "housing.fee", people=3), XINGFU, None, uuid4())
    assert alert is not None and alert.notify == ["community"]  # no directory: the kinds
    assert not opens_linked_handling(alert)
