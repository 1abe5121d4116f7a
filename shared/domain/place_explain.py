"""The Chinese explanations of :mod:`shared.domain.places`' answers, for dispatchers.

Each says which words matched which place (path in brackets), which one was taken and,
when the answer is not to be trusted, why: a tie, a contradiction, a 楼号 out of range,
a point on a border, an address and a point that disagree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.domain.place_data import NAME_KINDS, Place
from shared.domain.place_text import BuildingRef
from shared.domain.taxonomy import within

if TYPE_CHECKING:
    from shared.domain.places import NameHit, PlaceMatch

QUOTE_CHARS = 60  # an address longer than this is shortened in explanations


def _quoted(text: str) -> str:
    text = " ".join(text.split())
    return f"“{text[:QUOTE_CHARS]}…”" if len(text) > QUOTE_CHARS else f"“{text}”"


def _label(place: Place) -> str:
    return f"{place.name} ({place.path})"


def _hits(matched: tuple[NameHit, ...]) -> str:
    """“和平里”匹配 和平里小区 (d01.s02.c01.g01.k01)（别名）, once per word found (a word
    said many times in a long text is named once)."""
    by_word: dict[str, dict[str, NameHit]] = {}
    for hit in matched:
        by_word.setdefault(hit.said, {}).setdefault(hit.path, hit)
    parts = []
    for said, found in by_word.items():
        hits = list(found.values())
        kinds = {h.kind for h in hits}
        kind = "" if kinds == {"name"} else f"（{'/'.join(sorted(NAME_KINDS[k] for k in kinds))}）"
        places = "、".join(f"{h.name} ({h.path})" for h in hits)
        verb = "匹配" if len(hits) == 1 else "可指"
        parts.append(f"“{said}”{verb} {places}{kind}")
    return "，".join(parts)


def unknown_address(text: str) -> str:
    return f"地址{_quoted(text)}中没有地名库里的地名，地点未知"


def address_text(
    text: str,
    matched: tuple[NameHit, ...],
    place: Place,
    ref: BuildingRef,
    contradicting: list[NameHit],
) -> str:
    """The explanation of an address resolved to ``place`` (maybe with doubts)."""
    out = f"地址{_quoted(text)}中的{_hits(matched)}"
    if len({h.path for h in matched}) > 1:
        out += f"；取最深一级 {_label(place)}"
    for hit in contradicting:
        out += (f"；但“{hit.said}”({hit.path}) 与 {_label(place)} 不属同一上级，"
                "地名互相矛盾，需人工确认")  # fmt: skip
    if ref.building is not None:
        out += _building_text(place, ref.building)
    return out


def _building_text(place: Place, building: int) -> str:
    if place.buildings is None:
        return f"；{building}号楼（该小区楼号范围未登记）"
    if building in place.buildings:
        return f"；{building}号楼在其楼号范围{place.buildings}内"
    return f"；但{building}号楼不在其楼号范围{place.buildings}内，需人工确认"


def tie_text(
    text: str, matched: tuple[NameHit, ...], common: Place | None, tied: list[Place]
) -> str:
    """Several places fit equally well: their common area (or nothing), to be confirmed."""
    out = f"地址{_quoted(text)}中的{_hits(matched)}"
    out += f"；无法确定是 {'、'.join(_label(p) for p in tied)} 中哪一个"
    if common is None:
        return out + "，地点未知，需人工确认"
    return out + f"，取共同上级 {_label(common)}，需人工确认"


def point_text(lat: float, lon: float, place: Place | None, border: list[Place]) -> str:
    where = f"坐标 ({lat:.5f}, {lon:.5f})"
    if place is None and not border:
        return f"{where} 不在任何已知区域内，地点未知"
    out = f"{where} 位于 {_label(place)} 范围内" if place is not None else where
    if border:
        out += f"，且在 {'、'.join(_label(p) for p in border)} 的交界上，需人工确认"
    return out


def disagreement_text(text: PlaceMatch, point: PlaceMatch) -> str:
    """Both explanations, and which one was taken when they differ."""
    out = f"{text.explanation}。{point.explanation}"
    if text.path is None and point.path is None:
        return out
    if text.path is None or point.path is None:
        return out + ("。按坐标定位" if text.path is None else "。按地址定位")
    if within(text.path, point.path) or within(point.path, text.path):
        deeper = text if text.path.count(".") >= point.path.count(".") else point
        return out + f"。地址与坐标一致，取较深的 {deeper.name} ({deeper.path})"
    if text.confident:
        return out + f"。地址与坐标不一致，以地址为准：{text.name} ({text.path})"
    return out + "。地址与坐标不一致，地址也不确定，需人工确认"
