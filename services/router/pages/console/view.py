"""Shapes the console draws, computed in Python so the template stays simple: the funnel in
lifecycle order, the bars of the cases-per-day chart (inline SVG), alert summaries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from shared.domain.targets import PERCENT
from shared.domain.taxonomy import label

FUNNEL = (
    "received", "triaged", "dispatched", "in_progress", "resolved", "awaiting_feedback",
    "reopened", "rerouting", "disputed", "closed", "merged",
)  # fmt: skip
CHART_W, CHART_H, CHART_PAD = 720, 160, 24


@dataclass(frozen=True)
class FunnelStep:
    state: str
    label: str
    count: int
    width: float  # percent of the widest step


@dataclass(frozen=True)
class Bar:
    day: date
    count: int
    x: float
    y: float
    w: float
    h: float


def funnel(by_state: dict[str, int]) -> list[FunnelStep]:
    states = [*FUNNEL, *sorted(set(by_state) - set(FUNNEL))]
    top = max(by_state.values(), default=0) or 1
    return [
        FunnelStep(s, label(s), by_state.get(s, 0), round(100 * by_state.get(s, 0) / top, 1))
        for s in states
    ]


def bars(per_day: dict[date, int], first: date, last: date) -> list[Bar]:
    """One bar per local day from ``first`` to ``last`` (days without cases included)."""
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)][-62:]
    if not days:
        return []
    top = max((per_day.get(d, 0) for d in days), default=0) or 1
    step = (CHART_W - 2 * CHART_PAD) / len(days)
    out = []
    for i, d in enumerate(days):
        n = per_day.get(d, 0)
        h = (CHART_H - 2 * CHART_PAD) * n / top
        x = CHART_PAD + i * step
        out.append(Bar(d, n, round(x, 1), round(CHART_H - CHART_PAD - h, 1), round(step * 0.8, 1),
                       round(h, 1)))  # fmt: skip
    return out


def summary(alert: dict[str, Any]) -> list[tuple[str, str]]:
    """The scalar fields of an alert whose shape the intake service owns (first eight)."""
    return [(k, str(v)) for k, v in alert.items() if isinstance(v, str | int | float)][:8]


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def num(value: float | int | None) -> str:
    return "—" if value is None else f"{value:g}"


@dataclass(frozen=True)
class Series:
    name: str
    css: str
    points: str  # SVG polyline points
    dots: list[tuple[float, float]]
    last: str


TREND: tuple[tuple[str, str, str], ...] = (
    ("按期办结率 on time", "on", "on_time_rate"),
    ("满意率 satisfied", "sat", "satisfaction_rate"),
    ("二次办理率 second handling", "second", "second_handling_rate"),
)


def trend(by_week: dict[date, Any]) -> tuple[list[date], list[Series]]:
    """Weekly KPI rates (0–100 %) as polylines; a week with no value leaves a gap-free line
    through the weeks that have one."""
    weeks = sorted(by_week)[-26:]
    if not weeks:
        return [], []
    step = (CHART_W - 2 * CHART_PAD) / max(len(weeks) - 1, 1)
    out = []
    for name, css, field_name in TREND:
        pts = [
            (CHART_PAD + i * step, CHART_H - CHART_PAD - (CHART_H - 2 * CHART_PAD) * v)
            for i, w in enumerate(weeks)
            if (v := getattr(by_week[w], field_name)) is not None
        ]
        last = getattr(by_week[weeks[-1]], field_name)
        dots = [(round(x, 1), round(y, 1)) for x, y in pts]
        out.append(Series(name, css, " ".join(f"{x},{y}" for x, y in dots), dots, pct(last)))
    return weeks, out


def goal_value(target_id: str, value: float | None) -> str:
    """A target's value as people read it: a share as a percent, else the number."""
    if value is None:
        return "—"
    return f"{value:.1%}" if target_id in PERCENT else f"{value:g}"
