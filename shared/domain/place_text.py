"""How an address as said is made comparable with the gazetteer's names (pure text).

Both the address and every name go through :func:`normalise`: NFKC (full-width ３号楼 → 3号楼,
full-width spaces), no whitespace, and Chinese numerals before 号楼/号/栋/幢/单元 written
as digits (三号楼 → 3号楼, 十二栋 → 12栋). Nothing fuzzy: after this, names match exactly.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
           "七": 7, "八": 8, "九": 9}  # fmt: skip
_NUMERAL_BEFORE_UNIT = re.compile(r"([零〇一二两三四五六七八九十百]+)(?=号楼|号院|号|栋|幢|单元)")
_SPACE = re.compile(r"\s+")
# 楼号 after the compound's name: "3号楼", "3栋", "3幢", "3座"; right after it also "3号"
# and the short "3-2-301" (楼-单元-室).
_BUILDING = re.compile(r"(\d{1,4})(?:号楼|号?栋|号?幢|号?座)")
_BUILDING_NEXT = re.compile(r"^(?:第)?(\d{1,4})(?:号(?!院)|-(\d{1,3})(?:-\d{1,5})?)")
_UNIT = re.compile(r"(\d{1,3})单元")
BUILDING_WINDOW = 30  # characters after the compound's name where its 楼号 is looked for
# Suffixes a place is also called by, per level (the stem alone too, for 区 and 街道).
SUFFIX_VARIANTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "district": ("区", ("",)),
    "street": ("街道", ("街道办事处", "街道办", "街", "")),
    "community": ("社区", ("社区居委会", "居委会")),
}


def chinese_number(numeral: str) -> int | None:
    """一二三 as digits (一〇三 → 103) or as a count (二十三 → 23, 一百零五 → 105)."""
    if all(c in _DIGITS for c in numeral):
        return int("".join(str(_DIGITS[c]) for c in numeral))
    total, current = 0, 0
    for char in numeral:
        if char in _DIGITS:
            current = _DIGITS[char]
        elif char in "十百":
            total += (current or 1) * (10 if char == "十" else 100)
            current = 0
        else:
            return None
    return total + current


def _numeral(match: re.Match[str]) -> str:
    value = chinese_number(match.group(1))
    return match.group(1) if value is None else str(value)


def normalise(text: str) -> str:
    """The comparable form of an address or a name (see the module docstring)."""
    text = _SPACE.sub("", unicodedata.normalize("NFKC", text))
    return _NUMERAL_BEFORE_UNIT.sub(_numeral, text)


@dataclass(frozen=True)
class BuildingRef:
    """The 楼号 and 单元 said after a compound's name (None when not said)."""

    building: int | None = None
    unit: int | None = None


def building_after(text: str) -> BuildingRef:
    """The 楼号 and 单元 in ``text``, the normalised words following a compound's name."""
    head = text[:BUILDING_WINDOW]
    unit: str | None = None
    if short := _BUILDING_NEXT.match(head):
        building, rest, unit = int(short.group(1)), head[short.end() :], short.group(2)
    elif found := _BUILDING.search(head):
        building, rest = int(found.group(1)), head[found.end() :]
    else:
        return BuildingRef()
    if unit is None and (said := _UNIT.search(rest)):
        unit = said.group(1)
    return BuildingRef(building, int(unit) if unit else None)


def name_variants(name: str, level: str) -> list[str]:
    """Other ways of saying a place's name by its level's suffix (城西区 → 城西)."""
    suffix, others = SUFFIX_VARIANTS.get(level, ("", ()))
    if not suffix or not name.endswith(suffix) or len(name) - len(suffix) < 2:
        return []
    stem = name.removesuffix(suffix)
    return [stem + other for other in others if stem + other != name]
