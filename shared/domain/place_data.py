"""The gazetteer file (``config/places.yaml``): its shape and its checks.

Split from :mod:`shared.domain.places` (which re-exports :class:`Place`): this module knows
the file, that one resolves addresses and points. The format is documented in the file's
header. Loading refuses, with a :class:`ConfigError` naming file, line, place and field:
a malformed path or boundary, a place whose parent is not listed, two places with one
path, a name claimed by two places of one level (unless listed under ``ambiguous``), a
boundary that is not a valid polygon, not inside its parent's, or overlapping a sibling's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import shapely
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from shapely.geometry import Polygon

from shared.domain.errors import YamlSource
from shared.domain.owners import OwnerDirectory
from shared.domain.place_text import normalise
from shared.domain.taxonomy import LEVELS, path_problem

NAME_KINDS = {"name": "标准名", "alias": "别名", "former_name": "旧名", "landmark": "地标",
              "variant": "别称"}  # fmt: skip


class BuildingRange(BaseModel):
    """楼号 from … to, both included."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    first: int = Field(alias="from", ge=1)
    last: int = Field(alias="to", ge=1)

    def __contains__(self, number: object) -> bool:
        return isinstance(number, int) and self.first <= number <= self.last

    def __str__(self) -> str:
        return f"{self.first}–{self.last}"


class Place(BaseModel):
    """One area or compound: its path, names and boundary (a ring of (lon, lat))."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str
    name: str = Field(min_length=1)
    aliases: tuple[str, ...] = ()
    former_names: tuple[str, ...] = ()
    landmarks: tuple[str, ...] = ()
    buildings: BuildingRange | None = None
    polygon: tuple[tuple[float, float], ...] = ()

    @field_validator("path")
    @classmethod
    def _path_is_a_path(cls, value: str) -> str:
        problem = path_problem(value) if value else "路径不能为空 (empty path)"
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("polygon")
    @classmethod
    def _ring_of_lon_lat(cls, ring: tuple[tuple[float, float], ...]) -> Any:
        if ring and len(ring) < 3:
            raise ValueError("边界至少要 3 个点 (a ring needs 3 points)")
        for lon, lat in ring:
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                raise ValueError(f"坐标 [{lon}, {lat}] 应为 [经度, 纬度] (expected [lon, lat])")
        return ring

    @property
    def level(self) -> str:
        return LEVELS[self.path.count(".")]

    @property
    def parent(self) -> str:
        """The parent's path ("" for a district)."""
        return self.path.rpartition(".")[0]

    def names(self) -> Iterator[tuple[str, str]]:
        """(normalised name, kind) for every name the file gives this place."""
        yield normalise(self.name), "name"
        for kind, names in (("alias", self.aliases), ("former_name", self.former_names),
                            ("landmark", self.landmarks)):  # fmt: skip
            for name in names:
                yield normalise(name), kind

    def shape(self) -> Polygon | None:
        return Polygon(self.polygon) if self.polygon else None


@dataclass(frozen=True)
class PlaceFile:
    places: tuple[Place, ...]
    ambiguous: frozenset[str]
    version: str


def parse_places(text: str, *, file: str = "<places>") -> PlaceFile:
    """The places of a gazetteer file, checked (see the module docstring)."""
    src = YamlSource(text, file)
    if not isinstance(src.data, dict) or not isinstance(src.data.get("places"), list):
        raise src.error("顶层应为含 places 列表的映射 (expected a mapping with 'places')")
    ambiguous = src.data.get("ambiguous") or []
    if not isinstance(ambiguous, list) or not all(isinstance(a, str) for a in ambiguous):
        raise src.error("ambiguous 应为名称列表 (a list of names)", "ambiguous")
    places = [_parse_place(src, i, item) for i, item in enumerate(src.data["places"])]
    _check_tree(src, places)
    shared = frozenset(normalise(a) for a in ambiguous)
    _check_names(src, places, shared)
    _check_shapes(src, places)
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    return PlaceFile(tuple(places), shared, f"{src.data.get('version', '0')}+{digest}")


def _parse_place(src: YamlSource, index: int, item: Any) -> Place:
    entry = (
        str(item.get("path")) if isinstance(item, dict) and item.get("path") else f"#{index + 1}"
    )
    try:
        place = Place.model_validate(item)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        step = str(first["loc"][0]) if first["loc"] else None
        path = ("places", index, step) if step else ("places", index)
        message = str(first["msg"]).removeprefix("Value error, ")
        raise src.error(message, *path, entry=entry, field=field) from exc
    if place.buildings is not None and place.level != "compound":
        problem = "只有小区有楼号范围 (only compounds have buildings)"
        raise src.error(problem, "places", index, "buildings", entry=entry, field="buildings")
    return place


def _check_tree(src: YamlSource, places: list[Place]) -> None:
    paths: set[str] = set()
    for i, place in enumerate(places):
        if place.path in paths:
            raise src.error("重复的地点路径 (duplicate path)", "places", i, "path",
                            entry=place.path, field="path")  # fmt: skip
        paths.add(place.path)
    for i, place in enumerate(places):
        if place.parent and place.parent not in paths:
            problem = f"上级地点「{place.parent}」未列出 (parent not listed)"
            raise src.error(problem, "places", i, "path", entry=place.path, field="path")


def _check_names(src: YamlSource, places: list[Place], ambiguous: frozenset[str]) -> None:
    owner: dict[tuple[str, str], str] = {}
    claims: dict[str, int] = {}
    for i, place in enumerate(places):
        for name, kind in set(place.names()):
            claims[name] = claims.get(name, 0) + 1
            other = owner.setdefault((place.level, name), place.path)
            if other != place.path and name not in ambiguous:
                problem = (f"名称「{name}」已属于 {other}；确实共用请列入 ambiguous "
                           "(name already claimed at this level)")  # fmt: skip
                raise src.error(problem, "places", i, entry=place.path, field=kind)
    for name in sorted(ambiguous):
        if claims.get(name, 0) < 2:
            problem = f"「{name}」列为 ambiguous，却不为两个地点共用 (not shared)"
            raise src.error(problem, "ambiguous", field="ambiguous")


def _check_shapes(src: YamlSource, places: list[Place]) -> None:
    shapes = {p.path: s for p in places if (s := p.shape()) is not None}
    for i, place in enumerate(places):
        shape = shapes.get(place.path)
        if shape is None:
            continue
        where = {"entry": place.path, "field": "polygon"}
        if not shape.is_valid:
            reason = shapely.is_valid_reason(shape)
            raise src.error(f"边界不是有效多边形 (invalid polygon: {reason})", "places", i,
                            "polygon", **where)  # fmt: skip
        parent = shapes.get(place.parent)
        if parent is not None and not parent.covers(shape):
            problem = f"边界超出上级 {place.parent} 的范围 (not inside its parent)"
            raise src.error(problem, "places", i, "polygon", **where)
        for other in places[:i]:
            near = shapes.get(other.path)
            if other.parent == place.parent and near is not None and _overlap(shape, near):
                problem = f"边界与 {other.path} 重叠 (overlaps a sibling)"
                raise src.error(problem, "places", i, "polygon", **where)


def _overlap(a: Polygon, b: Polygon) -> bool:
    return bool(a.intersection(b).area > 0)


def owner_problems(places: tuple[Place, ...], directory: OwnerDirectory) -> list[str]:
    """Disagreements between the gazetteer and the owner directory.

    Each place must lie within an owner's area (a place outside every one would route to
    nobody), and every area and compound the owners name, with their ancestors, must be a
    place (else no address could ever resolve there)."""
    listed = {p.path for p in places}
    named = {o.area for o in directory.all()} | {c for o in directory.all() for c in o.compounds}
    owned = {".".join(a.split(".")[:n]) for a in named if a for n in range(1, a.count(".") + 2)}
    problems = [
        f"地点 {p.path}（{p.name}）不在任何责任单位的辖区内 (outside every owner's area)"
        for p in places
        if not any(p.path == a or p.path.startswith(a + ".") for a in owned)
    ]
    problems += [
        f"owners.yaml 的区域 {a} 在地名库中没有 (area missing from the gazetteer)"
        for a in sorted(owned - listed)
    ]
    return problems
