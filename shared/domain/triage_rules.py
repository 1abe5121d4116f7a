"""Deciding the matter and the place of a free-text submission (分诊), without I/O.

A channel may leave out the category, the coded location or both. Intake asks the model
for the matter (top three with calibrated probabilities) and the gazetteer for the place,
then :func:`decide` says whether the case may route by itself:

* the category: the one given; else the model's top suggestion when its probability
  reaches the rules' threshold (``triage.min_probability``, or the category's own in
  ``triage.per_category``) and it is a category of the rules; else undecided;
* the place: the one given; else the gazetteer's match when it is confident; else
  undecided (a match that is not confident is kept as the provisional place, so the queue
  is shown to that area's offices);
* both decided: ``auto`` and the case routes; otherwise it waits in the dispatchers' queue
  (待派单) with the reasons, under the reserved category :data:`UNCLASSIFIED` when the
  matter is the undecided part.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from shared.contracts.events import PlaceFound, Suggested, TriageInfo
from shared.domain.rules import TriagePolicy

UNCLASSIFIED = "unclassified"
"""The category of a case whose matter a person has still to decide (待分类)."""


def matters(categories: Mapping[str, str]) -> dict[str, str]:
    """The categories a case can be of (code → name): all but the reserved one."""
    return {code: name for code, name in categories.items() if code != UNCLASSIFIED}


@dataclass(frozen=True)
class Decided:
    category: str
    location: dict[str, str | None]  # the levels (district … compound); {} when unknown
    info: TriageInfo | None  # None when the channel gave both codes


def decide(
    *,
    category: str | None,
    location: Mapping[str, str | None] | None,
    suggestions: Sequence[tuple[str, float]],
    model_version: str | None,
    place: PlaceFound | None,
    place_levels: Mapping[str, str | None] | None,
    policy: TriagePolicy,
    categories: Mapping[str, str],
) -> Decided:
    """The category, location and triage record of one submission (see the module)."""
    if category is not None and location is not None:
        return Decided(category, dict(location), None)
    reasons: list[str] = []
    chosen, threshold = _matter(category, suggestions, policy, categories, reasons)
    where = _place(location, place, place_levels, reasons)
    info = TriageInfo(
        auto=not reasons,
        reason="；".join(reasons),
        model_version=model_version if category is None else None,
        suggestions=[Suggested(category=c, probability=round(p, 4)) for c, p in suggestions],
        threshold=threshold,
        category_given=category is not None,
        place_given=location is not None,
        place=place,
    )
    return Decided(chosen or UNCLASSIFIED, where, info)


def _matter(
    given: str | None,
    suggestions: Sequence[tuple[str, float]],
    policy: TriagePolicy,
    categories: Mapping[str, str],
    reasons: list[str],
) -> tuple[str | None, float | None]:
    if given is not None:
        return given, None
    if not suggestions:
        reasons.append("未启用分诊模型，类别需派单员判定")
        return None, None
    best, p = suggestions[0]
    bar = policy.threshold(best)
    if best not in categories:
        reasons.append(f"模型建议的类别「{best}」不在分类表中")
        return None, bar
    if p < bar:
        reasons.append(f"模型把握不足：最可能为「{categories[best]}」p = {p:.2f} < {bar:.2f}")
        return None, bar
    return best, bar


def _place(
    given: Mapping[str, str | None] | None,
    place: PlaceFound | None,
    levels: Mapping[str, str | None] | None,
    reasons: list[str],
) -> dict[str, str | None]:
    if given is not None:
        return dict(given)
    if place is None or place.path is None or levels is None:
        reasons.append("地点不明：地址和内容中没有可识别的小区、社区或街道")
        return {}
    if not place.confident:
        reasons.append(f"地点不确定：{place.explanation}")
    return dict(levels)


def explanation(info: TriageInfo, categories: Mapping[str, str], category: str) -> str:
    """The routing explanation's first words for a case that routed by itself, e.g.
    「类别由模型 triage-… 建议，p = 0.93；地点来自地址：…」."""
    parts: list[str] = []
    if not info.category_given and info.suggestions:
        top = info.suggestions[0]
        name = categories.get(category, category)
        parts.append(f"类别「{name}」由模型 {info.model_version} 建议，p = {top.probability:.2f}")
    if not info.place_given and info.place is not None:
        parts.append(f"地点：{info.place.explanation}")
    return "；".join(parts)
