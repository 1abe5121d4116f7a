"""The petition plan's KPIs (考核指标), computed on plain rows: no database, no clock.

The caller (``services/router/api/reports.py``) selects the cases received in a window and
everything the arithmetic needs about them; ``compute`` returns one :class:`Kpis` for all
of them, one per area and one per owner. Definitions, and what is approximated:

* **Handling time** (办理时长, target ≤ 7 working days): received → the case's *last*
  resolution (the ``resolve`` timeline row; a closure when it never resolved, e.g. mediated
  on site), in working days on the calendar. Open cases are not averaged: they show up in
  the on-time rate instead. Per owner: dispatched → that dispatch's ``resolved_at``.
* **Satisfaction** (满意率, target ≥ 90 %): every rating given counts once: a ``close``/``closed``
  row's ``detail.rating`` and each ``reopen``/``reopened`` (unsatisfied unless its detail
  says otherwise). Ratings arrive by ``feedback.received``; a rating that has not reached
  the router yet is not counted.
  Satisfied and basically satisfied count as satisfied. **Second handling** (二次办理率):
  cases reopened at least once / cases rated at least once. Per owner, a case's ratings are
  attributed to its lead owners (the approximation: the rating is of the whole case).
* **Repeat petitions** (重复信访率): cases whose petitioner already had an earlier case in the
  window / cases with a known petitioner. **Key persons** (重点人员): petitioners with at
  least ``KEY_PERSON_CASES`` cases in the window (the escalation registry is the official
  list; this is the count the data shows).
* **Closed on time** (按期办结率): dispatches resolved by their (possibly extended) due time /
  (resolved dispatches + open dispatches past due at ``now``), so open overdue work cannot
  hide. An ``expired`` dispatch is overdue.
* **Hidden inventory** (隐性存量): explained closures, and how many of them came back: a later
  case of the same petitioner and category received within ``CAME_BACK_WITHIN`` of closure.
* **Concentration**: the share of cases (with a known petitioner) brought by the top 5 % of
  petitioners by case count (at least one petitioner).
* **Time spent** (投入工时): minutes reported with progress entries, summed per case and
  averaged over the cases in the window (cases with no entries count as zero); also in
  hours (``hours_spent``).
* **三率** (issue 23): **response** (响应率): dispatches acknowledged by their acknowledge
  due time / (acknowledged + still unacknowledged past it at ``now``); **resolution**
  (解决率): cases closed as ``resolved`` / cases closed (an explained, referred or
  no-feedback closure is handled, not resolved); **satisfaction** as above. Each in total
  and by tier, channel, category, area and owner.
* **Key persons' repeat rate** (重点人员重复信访率): cases flagged ``key_person`` that are
  not their petitioner's first in the window / cases with a known petitioner (the flag
  the case carried: part A's registry, once merged, may replace it).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

KEY_PERSON_CASES = 3
CAME_BACK_WITHIN = timedelta(days=183)
TOP_SHARE = 0.05
SATISFIED = frozenset({"satisfied", "basically_satisfied"})
CLOSE = frozenset({"close", "closed"})  # the lifecycle trigger, or the feedback handler's word
REOPEN = frozenset({"reopen", "reopened"})
OPEN_DISPATCH = frozenset({"pending", "acknowledged", "in_progress", "expired"})
SHANGHAI = ZoneInfo("Asia/Shanghai")
WorkingDays = Callable[[datetime, datetime], float]


@dataclass(frozen=True)
class CaseRow:
    case_id: str
    area: str
    state: str
    category: str
    received_at: datetime
    petitioner_ref: str | None = None
    close_kind: str | None = None
    tier: str | None = None
    channel: str | None = None
    key_person: bool = False


@dataclass(frozen=True)
class DispatchRow:
    dispatch_id: str
    case_id: str
    owner_id: str
    role: str
    state: str
    created_at: datetime
    resolve_due_at: datetime
    resolved_at: datetime | None = None
    acknowledge_due_at: datetime | None = None
    acknowledged_at: datetime | None = None


@dataclass(frozen=True)
class TimelineRow:
    case_id: str
    at: datetime
    action: str
    detail: Mapping[str, Any] | None = None
    dispatch_id: str | None = None


@dataclass(frozen=True)
class LaterCase:
    """A case that may be an explained closure coming back (any time after the window)."""

    petitioner_ref: str
    category: str
    received_at: datetime


@dataclass
class Kpis:
    cases: int = 0
    by_state: dict[str, int] = field(default_factory=dict)
    handled: int = 0
    avg_handling_working_days: float | None = None
    ratings: int = 0
    satisfied: int = 0
    satisfaction_rate: float | None = None
    rated_cases: int = 0
    reopened_cases: int = 0
    second_handling_rate: float | None = None
    repeat_cases: int = 0
    repeat_rate: float | None = None
    key_persons: int = 0
    resolved_on_time: int = 0
    resolved_late: int = 0
    open_overdue: int = 0
    on_time_rate: float | None = None
    explained_closures: int = 0
    explained_came_back: int = 0
    top5_share: float | None = None
    minutes_spent: int = 0
    avg_minutes_per_case: float | None = None
    hours_spent: float = 0.0
    acknowledged_on_time: int = 0
    acknowledged_late: int = 0
    unacknowledged_overdue: int = 0
    response_rate: float | None = None
    closed_cases: int = 0
    closed_resolved: int = 0
    resolution_rate: float | None = None
    key_person_repeats: int = 0
    key_person_repeat_rate: float | None = None


@dataclass
class Report:
    total: Kpis
    by_area: dict[str, Kpis]
    by_owner: dict[str, Kpis]
    cases_per_day: dict[date, int]
    by_week: dict[date, Kpis] = field(default_factory=dict)  # keyed by the local Monday
    by_tier: dict[str, Kpis] = field(default_factory=dict)
    by_channel: dict[str, Kpis] = field(default_factory=dict)
    by_category: dict[str, Kpis] = field(default_factory=dict)


def ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


# --- per-case facts --------------------------------------------------------------------------
def handling_end(case_id: str, timeline: Iterable[TimelineRow]) -> datetime | None:
    """The case's last resolution, else its closure, else None (still being handled)."""
    rows = [t for t in timeline if t.case_id == case_id and t.dispatch_id is None]
    ends = [t.at for t in rows if t.action == "resolve"] or [
        t.at for t in rows if t.action in CLOSE
    ]
    return max(ends) if ends else None


def ratings_of(rows: Iterable[TimelineRow]) -> list[str]:
    """Every rating given, in order: close rows with a rating, and every reopen."""
    out = []
    for t in rows:
        rating = (t.detail or {}).get("rating")
        if t.action in REOPEN:
            out.append(str(rating or "unsatisfied"))
        elif t.action in CLOSE and rating:
            out.append(str(rating))
    return out


def is_overdue(d: DispatchRow, now: datetime) -> bool:
    return d.state in OPEN_DISPATCH and (d.state == "expired" or now > d.resolve_due_at)


def top_share(counts: Mapping[str, int], share: float = TOP_SHARE) -> float | None:
    """Share of all cases brought by the top ``share`` of petitioners (at least one)."""
    if not counts:
        return None
    top = max(1, math.ceil(len(counts) * share))
    ranked = sorted(counts.values(), reverse=True)
    return ratio(sum(ranked[:top]), sum(ranked))


def came_back(closed: Sequence[tuple[CaseRow, datetime]], later: Iterable[LaterCase]) -> int:
    """How many explained closures were followed within 6 months by a case like them."""
    later = list(later)
    return sum(
        any(
            lc.petitioner_ref == c.petitioner_ref
            and lc.category == c.category
            and at < lc.received_at <= at + CAME_BACK_WITHIN
            for lc in later
        )
        for c, at in closed
        if c.petitioner_ref
    )


# --- one group --------------------------------------------------------------------------------
def case_kpis(
    cases: Sequence[CaseRow],
    dispatches: Sequence[DispatchRow],
    timeline: Sequence[TimelineRow],
    later: Sequence[LaterCase],
    *,
    now: datetime,
    working_days: WorkingDays,
) -> Kpis:
    """KPIs of a set of cases (all cases, or one area's)."""
    ids = {c.case_id for c in cases}
    tl = defaultdict(list)
    for t in timeline:
        if t.case_id in ids:
            tl[t.case_id].append(t)
    k = Kpis(cases=len(cases), by_state=dict(Counter(c.state for c in cases)))
    days = []
    for c in cases:
        end = handling_end(c.case_id, tl[c.case_id])
        if end is not None:
            days.append(working_days(c.received_at, end))
    k.handled, k.avg_handling_working_days = len(days), mean(days)
    _ratings(k, [tl[c.case_id] for c in cases])
    _petitioners(k, cases)
    _on_time(k, [d for d in dispatches if d.case_id in ids], now)
    _response(k, [d for d in dispatches if d.case_id in ids], now)
    _resolution(k, cases)
    closed = [
        (c, max([t.at for t in tl[c.case_id] if t.action in CLOSE] or [c.received_at]))
        for c in cases
        if c.close_kind == "explained"
    ]
    k.explained_closures, k.explained_came_back = len(closed), came_back(closed, later)
    _minutes(k, [t for c in cases for t in tl[c.case_id]], len(cases))
    return k


def _ratings(k: Kpis, per_case: Sequence[Sequence[TimelineRow]]) -> None:
    given = [ratings_of(rows) for rows in per_case]
    k.ratings = sum(len(g) for g in given)
    k.satisfied = sum(r in SATISFIED for g in given for r in g)
    k.satisfaction_rate = ratio(k.satisfied, k.ratings)
    k.rated_cases = sum(bool(g) for g in given)
    k.reopened_cases = sum(any(t.action in REOPEN for t in rows) for rows in per_case)
    k.second_handling_rate = ratio(k.reopened_cases, k.rated_cases)


def _petitioners(k: Kpis, cases: Sequence[CaseRow]) -> None:
    known = sorted((c for c in cases if c.petitioner_ref), key=lambda c: c.received_at)
    counts = Counter(c.petitioner_ref for c in known if c.petitioner_ref)
    k.repeat_cases = len(known) - len(counts)
    k.repeat_rate = ratio(k.repeat_cases, len(known))
    k.key_person_repeats, k.key_person_repeat_rate = key_person_repeats(known)
    k.key_persons = sum(n >= KEY_PERSON_CASES for n in counts.values())
    k.top5_share = top_share(counts)


def _on_time(k: Kpis, dispatches: Sequence[DispatchRow], now: datetime) -> None:
    for d in dispatches:
        if d.resolved_at is not None:
            if d.resolved_at <= d.resolve_due_at:
                k.resolved_on_time += 1
            else:
                k.resolved_late += 1
        elif is_overdue(d, now):
            k.open_overdue += 1
    k.on_time_rate = ratio(
        k.resolved_on_time, k.resolved_on_time + k.resolved_late + k.open_overdue
    )


def _minutes(k: Kpis, rows: Iterable[TimelineRow], cases: int) -> None:
    k.minutes_spent = sum(
        int((t.detail or {}).get("minutes_spent") or 0) for t in rows if t.action == "progress"
    )
    k.avg_minutes_per_case = round(k.minutes_spent / cases, 1) if cases else None
    k.hours_spent = round(k.minutes_spent / 60, 2)


def key_person_repeats(cases: Sequence[CaseRow]) -> tuple[int, float | None]:
    """(repeat petitions by key persons, their share of the cases with a known petitioner):
    a case flagged ``key_person`` that is not its petitioner's first in the set."""
    known = sorted((c for c in cases if c.petitioner_ref), key=lambda c: c.received_at)
    seen: set[str] = set()
    repeats = 0
    for c in known:
        if c.key_person and c.petitioner_ref in seen:
            repeats += 1
        seen.add(c.petitioner_ref or "")
    return repeats, ratio(repeats, len(known))


def _response(k: Kpis, dispatches: Sequence[DispatchRow], now: datetime) -> None:
    """响应率: acknowledged by the acknowledge due time, open unacknowledged ones past it
    counting against (a dispatch with no acknowledge clock is left out)."""
    for d in dispatches:
        if d.acknowledge_due_at is None:
            continue
        if d.acknowledged_at is not None:
            if d.acknowledged_at <= d.acknowledge_due_at:
                k.acknowledged_on_time += 1
            else:
                k.acknowledged_late += 1
        elif d.state in OPEN_DISPATCH and now > d.acknowledge_due_at:
            k.unacknowledged_overdue += 1
    k.response_rate = ratio(
        k.acknowledged_on_time,
        k.acknowledged_on_time + k.acknowledged_late + k.unacknowledged_overdue,
    )


def _resolution(k: Kpis, cases: Sequence[CaseRow]) -> None:
    """解决率: closed as resolved / closed (merged duplicates are not closures)."""
    closed = [c for c in cases if c.state == "closed" and c.close_kind]
    k.closed_cases = len(closed)
    k.closed_resolved = sum(c.close_kind == "resolved" for c in closed)
    k.resolution_rate = ratio(k.closed_resolved, k.closed_cases)


def owner_kpis(
    owner_dispatches: Sequence[DispatchRow],
    cases: Sequence[CaseRow],
    timeline: Sequence[TimelineRow],
    *,
    now: datetime,
    working_days: WorkingDays,
) -> Kpis:
    """One owner's KPIs from its own dispatches (ratings of the cases it leads)."""
    case_ids = {d.case_id for d in owner_dispatches}
    led = {d.case_id for d in owner_dispatches if d.role == "lead" and d.state != "returned"}
    mine = {d.dispatch_id for d in owner_dispatches}
    k = Kpis(cases=len(case_ids), by_state=dict(Counter(d.state for d in owner_dispatches)))
    days = [working_days(d.created_at, d.resolved_at) for d in owner_dispatches if d.resolved_at]
    k.handled, k.avg_handling_working_days = len(days), mean(days)
    tl = defaultdict(list)
    for t in timeline:
        tl[t.case_id].append(t)
    _ratings(k, [tl[c] for c in sorted(led)])
    _on_time(k, owner_dispatches, now)
    _response(k, owner_dispatches, now)
    _resolution(k, [c for c in cases if c.case_id in led])
    k.explained_closures = sum(c.close_kind == "explained" for c in cases if c.case_id in led)
    own_rows = [t for c in sorted(case_ids) for t in tl[c] if t.dispatch_id in mine]
    _minutes(k, own_rows, len(case_ids))
    return k


def compute(
    cases: Sequence[CaseRow],
    dispatches: Sequence[DispatchRow],
    timeline: Sequence[TimelineRow],
    later: Sequence[LaterCase] = (),
    *,
    now: datetime,
    working_days: WorkingDays,
) -> Report:
    """All KPIs: in total, per area (``CaseRow.area``) and per owner."""
    areas: dict[str, list[CaseRow]] = defaultdict(list)
    for c in cases:
        areas[c.area].append(c)
    owners: dict[str, list[DispatchRow]] = defaultdict(list)
    for d in dispatches:
        owners[d.owner_id].append(d)
    kw: dict[str, Any] = {"now": now, "working_days": working_days}
    per_day = Counter(c.received_at.astimezone(SHANGHAI).date() for c in cases)
    weeks: dict[date, list[CaseRow]] = defaultdict(list)
    for c in cases:
        day = c.received_at.astimezone(SHANGHAI).date()
        weeks[day - timedelta(days=day.weekday())].append(c)
    return Report(
        total=case_kpis(cases, dispatches, timeline, later, **kw),
        by_area={
            a: case_kpis(cs, dispatches, timeline, later, **kw) for a, cs in sorted(areas.items())
        },
        by_owner={o: owner_kpis(ds, cases, timeline, **kw) for o, ds in sorted(owners.items())},
        cases_per_day=dict(sorted(per_day.items())),
        by_week={
            w: case_kpis(cs, dispatches, timeline, later, **kw) for w, cs in sorted(weeks.items())
        },
        by_tier=_by(cases, lambda c: c.tier or "-", dispatches, timeline, later, kw),
        by_channel=_by(cases, lambda c: c.channel or "-", dispatches, timeline, later, kw),
        by_category=_by(cases, lambda c: c.category, dispatches, timeline, later, kw),
    )


def _by(
    cases: Sequence[CaseRow],
    key: Callable[[CaseRow], str],
    dispatches: Sequence[DispatchRow],
    timeline: Sequence[TimelineRow],
    later: Sequence[LaterCase],
    kw: dict[str, Any],
) -> dict[str, Kpis]:
    groups: dict[str, list[CaseRow]] = defaultdict(list)
    for c in cases:
        groups[key(c)].append(c)
    return {g: case_kpis(cs, dispatches, timeline, later, **kw) for g, cs in sorted(groups.items())}
