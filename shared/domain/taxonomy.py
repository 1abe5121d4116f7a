"""The controlled vocabularies of the petition office (DESIGN.md, "Vocabulary").

* **Category codes** are dotted lower-case words, general to specific:
  ``property.elevator``, ``environment.cooking_fume``. A rule may match one code exactly or
  every code under a prefix with ``property.*`` (never a bare ``*``: a matter no rule knows
  is a whistle, not a default owner). The codes and their Chinese names are data, listed
  in ``config/rules.yaml`` under ``categories``.
* **Location paths** are dotted too, one segment per level, each level's value carrying its
  ancestors: district ``d01`` › street ``d01.s01`` › community ``d01.s01.c01`` › grid
  ``d01.s01.c01.g01`` › compound ``d01.s01.c01.g01.k01``. The empty path is the whole city.
  A compound that spans grids is filed under its main grid. Below the district a level may
  also be given as its own one-segment code (``street: s01``) next to its parent.
* **Tiers, urgencies, close kinds, ratings and return reasons**, and the Chinese names of
  lifecycle states and actions.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator


class Tier(StrEnum):
    SIMPLE = "simple"  # 简易类: 24 h
    COMPLEX = "complex"  # 复杂类: 5 working days
    DIFFICULT = "difficult"  # 疑难类: 15 working days


class Urgency(StrEnum):
    EMERGENCY = "emergency"
    URGENT = "urgent"
    NORMAL = "normal"


URGENCY_RANK = {Urgency.EMERGENCY: 0, Urgency.URGENT: 1, Urgency.NORMAL: 2}


class CloseKind(StrEnum):
    RESOLVED = "resolved"  # 已解决
    EXPLAINED = "explained"  # 解释结案: no remedy, the "hidden inventory" that comes back
    REFERRED = "referred"  # 转诉讼、仲裁或应急热线
    NO_FEEDBACK = "no_feedback"  # 回访无果
    MEDIATED_ON_SITE = "mediated_on_site"  # 网格员当场调解


class Rating(StrEnum):
    SATISFIED = "satisfied"
    BASICALLY_SATISFIED = "basically_satisfied"
    UNSATISFIED = "unsatisfied"


class ReturnReason(StrEnum):
    NOT_OUR_JURISDICTION = "not_our_jurisdiction"  # 非本单位职责
    WRONG_LOCATION = "wrong_location"  # 地址不在辖区
    NEEDS_OTHER_DEPARTMENT = "needs_other_department"  # 需其他部门办理
    MARKET_MATTER = "market_matter"  # 市场主体事项，应由物业或企业处理


LABELS: dict[str, str] = {
    # case and dispatch states
    "received": "已受理", "triaged": "已分类", "dispatched": "已派单", "in_progress": "办理中",
    "resolved": "已办结", "awaiting_feedback": "待回访", "closed": "已结案",
    "rerouting": "改派中", "disputed": "职责争议", "reopened": "二次办理", "merged": "已合并",
    "awaiting_triage": "待派单",
    "pending": "待签收", "acknowledged": "已签收", "returned": "已退单", "expired": "已超时",
    "cancelled": "已撤销",
    # actions
    "triage": "分类", "dispatch": "派单", "start_progress": "报告进展", "resolve": "办结",
    "request_feedback": "回访", "close": "结案", "reopen": "二次办理", "reroute": "改派",
    "dispute": "标记争议", "redispatch": "重新派单", "merge": "合并",
    "hold": "转派单员", "reclassify": "重新分类",
    "acknowledge": "签收", "request_extension": "申请延期", "return_dispatch": "退单",
    "expire": "超时", "cancel": "撤销", "request_reconsideration": "申请复核",
    # tiers and urgencies
    "simple": "简易", "complex": "复杂", "difficult": "疑难",
    "emergency": "紧急", "urgent": "加急", "normal": "一般",
}  # fmt: skip


def label(name: str) -> str:
    """The Chinese word for a state, action, tier or urgency (the name itself if unknown)."""
    return LABELS.get(name, name)


# --- categories ----------------------------------------------------------------------------
_CODE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")


def is_category_code(code: str) -> bool:
    return bool(_CODE.match(code))


def is_category_pattern(pattern: str) -> bool:
    """An exact code, or a code followed by ``.*``."""
    return is_category_code(pattern.removesuffix(".*"))


def category_matches(pattern: str, code: str) -> bool:
    if pattern.endswith(".*"):
        return code.startswith(pattern[:-1])
    return code == pattern


def category_specificity(pattern: str) -> tuple[int, int]:
    """(exact?, fixed segments): ``property.elevator`` beats ``property.*``."""
    exact = not pattern.endswith(".*")
    return (1 if exact else 0, len(pattern.removesuffix(".*").split(".")))


# --- locations -----------------------------------------------------------------------------
LEVELS: tuple[str, ...] = ("district", "street", "community", "grid", "compound")
LEVEL_LABELS = {"district": "区", "street": "街道", "community": "社区", "grid": "网格",
                "compound": "小区"}  # fmt: skip
_SEGMENT = re.compile(r"^[A-Za-z0-9_-]+$")


def path_problem(path: str, level: str | None = None) -> str | None:
    """Why ``path`` is not a location path (of ``level`` when given), or None."""
    if path == "" and level is None:
        return None
    parts = path.split(".")
    if not all(_SEGMENT.match(p) for p in parts):
        return f"路径「{path}」格式不对，应为以点分隔的段 (dotted segments like d01.s01)"
    if len(parts) > len(LEVELS):
        return f"路径「{path}」层级过深 (at most {len(LEVELS)} segments)"
    if level is not None and len(parts) != LEVELS.index(level) + 1:
        return f"{level} 路径应有 {LEVELS.index(level) + 1} 段，实为「{path}」"
    return None


def within(path: str, area: str) -> bool:
    """True when ``path`` lies inside ``area`` (the empty area is the whole city)."""
    return area == "" or path == area or path.startswith(area + ".")


def _normalise(given: dict[str, str]) -> dict[str, str | None]:
    """Full paths for every level, from full paths and/or one-segment codes (``s01``).

    A one-segment code below the district is relative to the level above it, so both
    ``{street: "d01.s01"}`` and ``{district: "d01", street: "s01"}`` mean ``d01.s01``.
    """
    paths: dict[str, str | None] = dict.fromkeys(LEVELS)
    known = ""  # deepest path settled so far
    for i, level in enumerate(LEVELS):
        value = given.get(level)
        if value is None:
            continue
        if "." not in value and i > 0:
            if paths[LEVELS[i - 1]] is None:
                raise ValueError(f"{level}={value} 是简码，需要给出上一级 {LEVELS[i - 1]}")
            value = f"{paths[LEVELS[i - 1]]}.{value}"
        problem = path_problem(value, level)
        if problem:
            raise ValueError(problem)
        if known and not value.startswith(known + "."):
            raise ValueError(f"{level}={value} 不在 {known} 之内 (levels disagree)")
        paths[level] = known = value
    parts = known.split(".") if known else []
    for i, level in enumerate(LEVELS[: len(parts)]):
        paths[level] = ".".join(parts[: i + 1])
    return paths


class Location(BaseModel):
    """Where a case is, each level as a full path (see :func:`_normalise`).

    Missing ancestors are filled from the most specific level; levels that disagree are
    refused (ValueError, so a pydantic ValidationError at the edge).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    district: str | None = None
    street: str | None = None
    community: str | None = None
    grid: str | None = None
    compound: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _full_paths(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        given = {k: str(v) for k, v in data.items() if k in LEVELS and v not in (None, "")}
        return {**data, **_normalise(given)}

    def path(self) -> str:
        """The most specific path known ("" when nothing is known)."""
        return next((v for v in reversed(self.by_level().values()) if v), "")

    def by_level(self) -> dict[str, str | None]:
        return {level: getattr(self, level) for level in LEVELS}

    @property
    def specificity(self) -> int:
        """0 (nothing known) … 5 (compound known)."""
        return len(self.path().split(".")) if self.path() else 0
