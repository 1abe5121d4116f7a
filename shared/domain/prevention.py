"""Prevention work counted (issue 23, part B): patrols, the risk register, on-site
mediations, campaign coverage and the share of matters settled at the root. Pure: the
service reads rows, these functions count them.

* **On-site mediations** (当场调解) come from two places and count once each: a patrol's
  mediation that names no case, and a ``grid_patrol`` case stored closed as
  ``mediated_on_site`` (a patrol's mediation that names such a case is that case).
* **Matters** (矛盾) of a period: on-site mediations + risks recorded + petitions (cases
  received, except those mediated on site, those a risk turned into, and the
  ``early_warning`` linked handlings, which repeat cases already counted). A patrol's
  finding is a matter through one of the first two: the plan has a worker mediate what can
  be mediated on the spot and record the rest (能调解的当场调解，需上报的当日反馈); a note
  with neither is counted as a finding in the weekly report, not as a matter.
* **Settled at the root** (化解在萌芽状态): on-site mediations + risks closed as resolved
  without becoming a case. Share = settled / matters (target ≥ 80 %).
* **Coverage** (住户覆盖率) of a campaign: households visited by patrols in each of its
  areas during its period, each area capped at the households it is to cover (a log
  counts visits, not distinct doors), over the households to cover (target ≥ 90 %).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

NO_CATEGORY = "uncategorized"
LABELS = {
    "patrols": "巡查次数",
    "workers": "巡查网格员",
    "days_patrolled": "巡查天数",
    "households_visited": "走访住户",
    "minutes": "巡查时长（分钟）",
    "findings": "发现问题",
    "mediated_on_site": "当场调解",
    "risks_recorded": "登记隐患",
    "risks_resolved": "隐患化解",
    "risks_to_case": "隐患转案件",
    "risks_open": "隐患待跟进",
    "petitions": "信访诉求",
    "matters": "矛盾总数",
    "settled_at_root": "化解在萌芽",
    "root_settlement_rate": "源头化解率",
}


@dataclass(frozen=True)
class PatrolFact:
    path: str
    day: date
    worker_id: str
    households: int
    minutes: int = 0
    categories: tuple[str | None, ...] = ()  # one per finding
    mediations: int = 0  # on-site mediations that name no case
    campaign_id: str | None = None


@dataclass(frozen=True)
class RiskFact:
    path: str
    seen_on: date
    state: str  # open | resolved | case
    category: str | None = None
    campaign_id: str | None = None


@dataclass(frozen=True)
class CaseFact:
    path: str
    received_on: date
    channel: str
    close_kind: str | None = None
    from_risk: bool = False
    campaign_id: str | None = None

    @property
    def mediated(self) -> bool:
        return self.close_kind == "mediated_on_site"

    @property
    def petition(self) -> bool:
        return not (self.mediated or self.from_risk or self.channel == "early_warning")


@dataclass
class Tally:
    patrols: int = 0
    workers: int = 0
    days_patrolled: int = 0
    households_visited: int = 0
    minutes: int = 0
    findings: int = 0
    findings_by_category: dict[str, int] = field(default_factory=dict)
    mediated_on_site: int = 0
    risks_recorded: int = 0
    risks_resolved: int = 0
    risks_to_case: int = 0
    risks_open: int = 0
    petitions: int = 0
    matters: int = 0
    settled_at_root: int = 0
    root_settlement_rate: float | None = None


def ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def root_settlement(
    *, mediated_on_site: int, risks_resolved: int, risks_to_case: int, risks_open: int,
    petitions: int,
) -> tuple[int, int, float | None]:  # fmt: skip
    """(settled at the root, matters, share) from counts (see the module's definitions)."""
    settled = mediated_on_site + risks_resolved
    matters = settled + risks_to_case + risks_open + petitions
    return settled, matters, ratio(settled, matters)


def tally(
    patrols: Iterable[PatrolFact], risks: Iterable[RiskFact], cases: Iterable[CaseFact]
) -> Tally:
    """One group's counts (a grid, a week, a month, a whole area)."""
    patrols, risks, cases = list(patrols), list(risks), list(cases)
    t = Tally(
        patrols=len(patrols),
        workers=len({p.worker_id for p in patrols}),
        days_patrolled=len({p.day for p in patrols}),
        households_visited=sum(p.households for p in patrols),
        minutes=sum(p.minutes for p in patrols),
    )
    found = Counter(c or NO_CATEGORY for p in patrols for c in p.categories)
    t.findings, t.findings_by_category = sum(found.values()), dict(sorted(found.items()))
    t.mediated_on_site = sum(p.mediations for p in patrols) + sum(c.mediated for c in cases)
    states = Counter(r.state for r in risks)
    t.risks_recorded = len(risks)
    t.risks_resolved, t.risks_to_case = states["resolved"], states["case"]
    t.risks_open = states["open"]
    t.petitions = sum(c.petition for c in cases)
    t.settled_at_root, t.matters, t.root_settlement_rate = root_settlement(
        mediated_on_site=t.mediated_on_site, risks_resolved=t.risks_resolved,
        risks_to_case=t.risks_to_case, risks_open=t.risks_open, petitions=t.petitions,
    )  # fmt: skip
    return t


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def child_of(path: str, area: str) -> str:
    """The part of ``path`` one level below ``area`` (itself when it is no deeper)."""
    depth = len(area.split(".")) + 1 if area else 1
    return ".".join(path.split(".")[:depth])


def grouped(
    patrols: Sequence[PatrolFact],
    risks: Sequence[RiskFact],
    cases: Sequence[CaseFact],
    key_patrol: Callable[[PatrolFact], str],
    key_risk: Callable[[RiskFact], str],
    key_case: Callable[[CaseFact], str],
) -> dict[str, Tally]:
    """A :class:`Tally` per group key (a grid, a week's Monday), keys sorted."""
    keys = {key_patrol(p) for p in patrols} | {key_risk(r) for r in risks}
    keys |= {key_case(c) for c in cases}
    return {
        k: tally(
            (p for p in patrols if key_patrol(p) == k),
            (r for r in risks if key_risk(r) == k),
            (c for c in cases if key_case(c) == k),
        )
        for k in sorted(keys)
    }


@dataclass(frozen=True)
class AreaCoverage:
    path: str
    households: int
    visited: int

    @property
    def covered(self) -> int:
        return min(self.visited, self.households)


def coverage(
    areas: Sequence[tuple[str, int]], patrols: Iterable[PatrolFact], start: date, end: date
) -> list[AreaCoverage]:
    """Each campaign area's households visited in ``[start, end]`` (days inclusive)."""
    within_period = [p for p in patrols if start <= p.day <= end]
    return [
        AreaCoverage(
            path, households,
            sum(p.households for p in within_period if p.path == path or p.path.startswith(path + ".")),
        )
        for path, households in areas
    ]  # fmt: skip


def coverage_rate(areas: Iterable[AreaCoverage]) -> tuple[int, int, float | None]:
    """(households covered, households to cover, share)."""
    areas = list(areas)
    covered, total = sum(a.covered for a in areas), sum(a.households for a in areas)
    return covered, total, ratio(covered, total)


def campaigns_due(per_year: int, on: date) -> int:
    """Campaigns a plan of ``per_year`` should have started by ``on`` (one a quarter for 4)."""
    quarters = (on.month - 1) // 3 + 1
    return math.ceil(per_year * quarters / 4)
