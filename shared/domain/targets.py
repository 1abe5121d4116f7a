"""The plan's targets (考核目标) as data, judged on computed values. Pure.

``config/targets.yaml`` (``targets:``) gives each target a bound: ``min`` (at least),
``max`` (at most) or ``of_last_year`` (at most this times the same window a year before:
0.5 is "halved"). ``campaigns_per_year`` is judged on the pace of the year: by the end of
the report's window the campaigns started this year must reach the share of the yearly
number its quarters call for (one a quarter for four). A value that cannot be computed
(no data) is neither met nor missed: ``met`` is None with a note.

Also pure here: :func:`conversion_rate` (part A records conversions; the router passes
counts once it can reach them) and :func:`backlog_at` (积案 stock at an instant).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from shared.domain.errors import ConfigError, read_operator_file
from shared.domain.prevention import ratio

TargetId = Literal[
    "response_rate",
    "resolution_rate",
    "satisfaction_rate",
    "avg_handling_working_days",
    "key_person_repeat_rate",
    "key_person_conversion_rate",
    "campaigns_per_year",
    "household_coverage",
    "root_settlement_rate",
]
LABELS: dict[str, str] = {
    "response_rate": "响应率（按时签收）",
    "resolution_rate": "解决率（非解释结案）",
    "satisfaction_rate": "满意率",
    "avg_handling_working_days": "平均办理时限（工作日）",
    "key_person_repeat_rate": "重点人员重复信访率（较去年同期）",
    "key_person_conversion_rate": "重点人员转化率",
    "campaigns_per_year": "专项排查（次/年）",
    "household_coverage": "住户覆盖率",
    "root_settlement_rate": "矛盾化解在萌芽状态",
}
PERCENT = frozenset(LABELS) - {"avg_handling_working_days", "campaigns_per_year"}


class Bound(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    min: float | None = None
    max: float | None = None
    of_last_year: float | None = None

    @model_validator(mode="after")
    def _one(self) -> Bound:
        if sum(v is not None for v in (self.min, self.max, self.of_last_year)) != 1:
            raise ValueError("each target needs exactly one of min, max, of_last_year")
        return self


class Targets(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = "0"
    targets: dict[TargetId, Bound] = {}

    @classmethod
    def load(cls, path: Path | str) -> Targets:
        text, name = read_operator_file(path)
        return cls.from_text(text, file=name)

    @classmethod
    def from_text(cls, text: str, *, file: str = "<targets>") -> Targets:
        try:
            return cls.model_validate(yaml.safe_load(text) or {})
        except (ValidationError, yaml.YAMLError) as exc:
            raise ConfigError(f"考核目标无效 (invalid targets): {exc}", file=file) from exc


@dataclass(frozen=True)
class Goal:
    label: str
    value: float | None
    target: str
    met: bool | None
    note: str | None = None


def _show(target_id: str, value: float) -> str:
    return f"{value:.0%}" if target_id in PERCENT else f"{value:g}"


def describe(target_id: str, bound: Bound) -> str:
    if bound.min is not None:
        return f"≥ {_show(target_id, bound.min)}"
    if bound.max is not None:
        return f"≤ {_show(target_id, bound.max)}"
    return f"≤ 去年同期 × {bound.of_last_year:g}"


def judge(
    target_id: str,
    bound: Bound,
    value: float | None,
    *,
    last_year: float | None = None,
    due: float | None = None,
) -> Goal:
    """One target's verdict; ``due`` replaces ``min`` for paced targets (campaigns)."""
    label, text = LABELS[target_id], describe(target_id, bound)
    if value is None:
        return Goal(label, None, text, None, "无数据 (no data)")
    if bound.of_last_year is not None:
        if last_year is None:
            return Goal(label, value, text, None, "去年同期无数据 (no data a year before)")
        limit = last_year * bound.of_last_year
        return Goal(label, value, f"{text}（≤ {_show(target_id, limit)}）", value <= limit)
    if due is not None:
        return Goal(label, value, f"{text}（截至期末应 {due:g}）", value >= due)
    if bound.min is not None:
        return Goal(label, value, text, value >= bound.min)
    assert bound.max is not None
    return Goal(label, value, text, value <= bound.max)


def conversion_rate(converted: int, key_persons: int) -> float | None:
    """矛盾转化: key persons recorded as converted (议事会 member, supervisor, volunteer) /
    key persons in the registry."""
    return ratio(converted, key_persons)


@dataclass(frozen=True)
class OpenSpan:
    """A dispatch's life for the backlog: created, due to be resolved, ended (resolved,
    returned or cancelled; None while open)."""

    case_id: str
    created_at: datetime
    due_at: datetime
    ended_at: datetime | None


def backlog_at(
    spans: Iterable[OpenSpan], closed_at: Mapping[str, datetime | None], at: datetime
) -> int:
    """积案 at an instant: cases not closed by ``at`` holding a dispatch open at ``at``
    past its resolve due time."""
    return len(
        {
            s.case_id
            for s in spans
            if s.created_at <= at
            and s.due_at < at
            and (s.ended_at is None or s.ended_at > at)
            and ((c := closed_at.get(s.case_id)) is None or c > at)
        }
    )


def plan_goals(
    targets: Targets,
    values: Mapping[str, float | None],
    *,
    last_year: Mapping[str, float | None] | None = None,
    due: Mapping[str, float] | None = None,
    notes: Mapping[str, str] | None = None,
) -> dict[str, Goal]:
    """Every target of the file judged on ``values``; ``notes`` say why a value is missing."""
    out: dict[str, Goal] = {}
    for target_id, bound in targets.targets.items():
        goal = judge(
            target_id, bound, values.get(target_id),
            last_year=(last_year or {}).get(target_id), due=(due or {}).get(target_id),
        )  # fmt: skip
        if goal.value is None and target_id in (notes or {}):
            goal = Goal(goal.label, None, goal.target, None, (notes or {})[target_id])
        out[target_id] = goal
    return out
