"""``shaobao rules simulate``, the pure part: comparing destinations and the report."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shared.cli.main import app as shaobao
from shared.cli.since import parse_since
from shared.domain.owners import OwnerDirectory
from shared.domain.routing import Location, RuleSet
from shared.domain.rule_simulation import (
    WHISTLE,
    Destination,
    PastCase,
    Routing,
    Tally,
    compare,
)
from shared.domain.rule_simulation_report import SimulationReport, build_report, report_text

CONFIG = Path(__file__).resolve().parents[2] / "config"
RULES_TEXT = (CONFIG / "rules.yaml").read_text(encoding="utf-8")
XINGFULI = Location(compound="d01.s01.c01.g01.k01")
GUANGMING = Location(compound="d01.s01.c02.g01.k01")
HEADER = {"rules_file": "new.yaml", "current_version": "a", "new_version": "b", "since": "90d"}


@pytest.fixture(scope="module")
def owners() -> OwnerDirectory:
    return OwnerDirectory.load(CONFIG / "owners.yaml")


@pytest.fixture(scope="module")
def current(owners: OwnerDirectory) -> Routing:
    return Routing(RuleSet.from_text(RULES_TEXT), owners)


def edited(owners: OwnerDirectory, old: str, new: str) -> Routing:
    assert RULES_TEXT.count(old) == 1, old
    return Routing(RuleSet.from_text(RULES_TEXT.replace(old, new)), owners)


@pytest.fixture(scope="module")
def fume_to_cgw(owners: OwnerDirectory) -> Routing:
    """The cooking-fume lead moves from 生态环境局 to 城管委."""
    return edited(owners, "    lead: d01-sthj\n", "    lead: d01-cgw\n")


def case(
    n: int,
    category: str,
    where: Location = XINGFULI,
    *,
    stored: Destination | None = None,
    community_convenes: bool = False,
) -> PastCase:
    return PastCase(f"SB20260301{n:06d}", category, where, stored, community_convenes)


def tally_of(cases: list[PastCase], current: Routing, new: Routing, examples: int = 5) -> Tally:
    tally = Tally(examples=examples)
    for c in cases:
        tally.add(compare(c, current, new))
    return tally


def report_of(tally: Tally, owners: OwnerDirectory, rules: RuleSet) -> SimulationReport:
    return build_report(tally, names=owners.name_of, labels=rules.categories, header=HEADER)


def test_a_destination_going_to_the_whistle_has_no_lead_nor_co_handlers() -> None:
    assert Destination.of("d01-cgw", ["b", "a"], disputed=True) == Destination(None)
    assert Destination.of(None, ["a"], disputed=False) == Destination(None)
    assert Destination.of("d01-cgw", ["b", "a"], disputed=False).co_handlers == ("a", "b")


def test_a_changed_lead_is_counted_only_for_its_category_with_the_owners_named(
    current: Routing, fume_to_cgw: Routing, owners: OwnerDirectory
) -> None:
    cases = [case(1, "environment.cooking_fume"), case(2, "environment.cooking_fume"),
             case(3, "property.elevator"), case(4, "animal.stray_dog")]  # fmt: skip
    report = report_of(tally_of(cases, current, fume_to_cgw), owners, current.rules)

    assert (report.cases, report.lead_changed, report.co_changed, report.changed) == (4, 2, 0, 2)
    rows = {r.category: r for r in report.by_category}
    assert rows["environment.cooking_fume"].lead_changed == 2
    assert rows["environment.cooking_fume"].label == "餐饮油烟扰民"
    assert rows["property.elevator"].lead_changed == rows["animal.stray_dog"].lead_changed == 0
    assert [(m.from_lead, m.to_lead, m.cases) for m in report.lead_moves] == [
        ("d01-sthj", "d01-cgw", 2)
    ]
    assert report.lead_moves[0].from_name == "城西区生态环境局"
    by_owner = {o.owner_id: (o.lead_now, o.lead_new) for o in report.by_owner}
    # 城管委 also leads the stray dog case under both files: only the moved cases count
    assert by_owner == {"d01-sthj": (2, 0), "d01-cgw": (1, 3)}
    assert [e.case_number for e in report.examples] == ["SB20260301000001", "SB20260301000002"]


def test_a_changed_co_handler_is_counted_apart_from_the_lead(
    current: Routing, owners: OwnerDirectory
) -> None:
    new = edited(owners, "co_handlers: [d01-nync, d01-ybj]", "co_handlers: [d01-nync]")
    report = report_of(tally_of([case(1, "animal.stray_dog")], current, new), owners, new.rules)

    assert (report.lead_changed, report.co_changed) == (0, 1)
    assert report.lead_moves == []
    assert {o.owner_id: (o.co_now, o.co_new) for o in report.by_owner} == {"d01-ybj": (1, 0)}
    assert report.examples[0].new.co_handler_names == ["城西区农业农村局"]


def test_a_rule_marked_disputed_sends_its_cases_to_the_whistle(
    current: Routing, owners: OwnerDirectory
) -> None:
    new = edited(owners, "    urgency: urgent\n    note: 楼道充电", "    urgency: urgent\n"
                 "    disputed: true\n    note: 楼道充电")  # fmt: skip
    report = report_of(tally_of([case(1, "fire.ebike_charging")], current, new), owners, new.rules)

    assert (report.lead_changed, report.co_changed) == (1, 1)
    move = report.lead_moves[0]
    assert (move.from_lead, move.to_lead, move.to_name) == ("d01-xfjy", None, WHISTLE)


def test_a_case_stored_under_older_rules_is_reported_against_both(
    current: Routing, fume_to_cgw: Routing, owners: OwnerDirectory
) -> None:
    older = Destination("d01-s01-zfd")  # routed by a file that no longer holds
    same = Destination("d01-sthj")
    cases = [case(1, "environment.cooking_fume", stored=older),
             case(2, "environment.cooking_fume", stored=same),
             case(3, "property.elevator", stored=Destination("wy-xingfu", ("wb-anda",)))]  # fmt: skip
    report = report_of(tally_of(cases, current, fume_to_cgw), owners, current.rules)

    assert (report.lead_changed, report.stored_differs, report.stored_drifted) == (2, 2, 1)
    first, second = report.examples
    assert first.stored is not None and first.stored.lead == "d01-s01-zfd"
    assert second.stored is None  # stored as today's rules say: not repeated


def test_a_case_without_a_stored_routing_is_compared_with_the_current_rules_only(
    current: Routing, fume_to_cgw: Routing
) -> None:
    tally = tally_of([case(1, "environment.cooking_fume", stored=None)], current, fume_to_cgw)
    assert (tally.changed, tally.without_stored, tally.stored_differs) == (1, 1, 0)


def test_a_linked_handling_is_routed_with_the_community_as_the_router_does(
    current: Routing,
) -> None:
    linked = case(1, "property.elevator", community_convenes=True)
    assert "d01-s01-c01-sq" in current.destination(linked).co_handlers
    assert "d01-s01-c01-sq" not in current.destination(case(2, "property.elevator")).co_handlers


def test_examples_are_bounded_while_every_change_is_counted(
    current: Routing, fume_to_cgw: Routing
) -> None:
    cases = [case(n, "environment.cooking_fume", GUANGMING) for n in range(50)]
    tally = tally_of(cases, current, fume_to_cgw, examples=3)
    assert (tally.cases, tally.changed, len(tally.changes)) == (50, 50, 3)


def test_the_text_names_owners_in_chinese_with_ids_and_the_json_round_trips(
    current: Routing, fume_to_cgw: Routing, owners: OwnerDirectory
) -> None:
    tally = tally_of([case(7, "environment.cooking_fume")], current, fume_to_cgw)
    report = report_of(tally, owners, current.rules)
    text = report_text(report)

    assert "主办会变 (lead would change)：1 件" in text
    assert "城西区生态环境局（d01-sthj） → 城西区城市管理委员会（d01-cgw）：1 件" in text
    assert "SB20260301000007 · environment.cooking_fume 餐饮油烟扰民 · d01.s01.c01.g01.k01" in text
    assert "协办（不变）：无" in text
    assert SimulationReport.model_validate(json.loads(report.model_dump_json())) == report


@pytest.mark.parametrize(
    ("given", "span"),
    [("90d", timedelta(days=90)), ("12h", timedelta(hours=12)), ("365d", timedelta(days=365)),
     ("2w", timedelta(days=14)), ("30m", timedelta(minutes=30))],
)  # fmt: skip
def test_since_reads_wall_clock_durations(given: str, span: timedelta) -> None:
    assert parse_since(given) == span


@pytest.mark.parametrize("given", ["5wd", "ninety days", "0d", "-3d", "99999999d"])
def test_since_refuses_what_is_not_a_wall_clock_duration(given: str) -> None:
    with pytest.raises(ValueError, match=r"「|时长"):
        parse_since(given)


def test_a_broken_rules_file_is_refused_before_the_database_is_read(tmp_path: Path) -> None:
    broken = tmp_path / "rules.yaml"
    broken.write_text(RULES_TEXT.replace("lead: d01-sthj", "lead: d01-nobody"), encoding="utf-8")
    # an address nothing listens on: reading the database would fail differently
    env = {"SHAOBAO_DATABASE_URL": "postgresql+asyncpg://x:y@127.0.0.1:1/none",
           "SHAOBAO_ENVIRONMENT": "test"}  # fmt: skip
    out = CliRunner().invoke(shaobao, ["rules", "simulate", "--rules", str(broken)], env=env)

    assert out.exit_code == 1
    assert "规则文件有误 (invalid)" in out.output and "d01-nobody" in out.output
    assert "unknown owner" in out.output


def test_simulate_refuses_a_file_with_the_same_words_as_rules_check(tmp_path: Path) -> None:
    broken = tmp_path / "rules.yaml"
    broken.write_text(RULES_TEXT.replace("id: garbage", "id: streetlight"), encoding="utf-8")
    runner = CliRunner()
    env = {"SHAOBAO_ENVIRONMENT": "test"}

    checked = runner.invoke(shaobao, ["rules", "check", str(broken)], env=env)
    simulated = runner.invoke(shaobao, ["rules", "simulate", "--rules", str(broken)], env=env)

    assert checked.exit_code == simulated.exit_code == 1
    assert "duplicate id" in checked.output
    assert simulated.output == checked.output
