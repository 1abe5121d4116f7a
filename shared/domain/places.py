"""The gazetteer (地名库): where an address as said, or a point, is.

Data, not code: ``config/places.yaml`` lists every area and compound with its names, old
names, landmarks, 楼号 range and boundary (:mod:`shared.domain.place_data` reads and checks
it). Matching is deliberately plain, so that every answer can be explained to a dispatcher:

* **An address** is normalised (:mod:`shared.domain.place_text`) and scanned left to right
  for the longest known name at each position. Each place named is scored by how many of
  the names found agree with it (name it or one of its ancestors); the best, deepest one is
  the answer. It is *not confident* when the best is a tie (a shared name, two compounds
  named: the answer is then their common area), when a name found contradicts it (a
  compound of another street than the street named), or when the 楼号 said is outside the
  compound's known range. No name found: unknown.
* **A point** resolves to the deepest area whose boundary covers it (shapely); on a border
  between two, to their parent, not confident. Outside every area: unknown.
* **Both** (:meth:`Gazetteer.resolve`): if they agree, the deeper; if they disagree, the
  address when it is confident, and the explanation says so.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import shapely
from shapely.geometry import Point

from shared.domain.errors import ConfigError, read_operator_file
from shared.domain.owners import OwnerDirectory
from shared.domain.place_data import Place, owner_problems, parse_places
from shared.domain.place_explain import (
    address_text,
    disagreement_text,
    point_text,
    tie_text,
    unknown_address,
)
from shared.domain.place_text import BuildingRef, building_after, name_variants, normalise
from shared.domain.taxonomy import LEVELS, Location, within

__all__ = ["Candidate", "Gazetteer", "NameHit", "Place", "PlaceMatch"]


@dataclass(frozen=True)
class NameHit:
    """A name found in an address: ``said`` (normalised) names ``path`` as a ``kind``."""

    said: str
    path: str
    name: str
    kind: str  # name | alias | former_name | landmark | variant
    start: int


@dataclass(frozen=True)
class Candidate:
    """A place an unsure answer might be, with its share of the names found (0–1)."""

    path: str
    name: str
    score: float


@dataclass(frozen=True)
class PlaceMatch:
    """Where an address or point is: ``path`` None when unknown; ``explanation`` in Chinese."""

    path: str | None
    level: str | None
    name: str | None
    confident: bool
    explanation: str
    matched: tuple[NameHit, ...] = ()
    candidates: tuple[Candidate, ...] = ()
    building: int | None = None
    unit: int | None = None
    source: str = "address"  # address | point | address+point | none

    @property
    def location(self) -> dict[str, str | None]:
        """Full path per level (district … compound), as intake's location takes it."""
        if not self.path:
            return dict.fromkeys(LEVELS)
        return Location.model_validate({self.level: self.path}).by_level()


class Gazetteer:
    """Places by path, their names for matching, and their boundaries for points."""

    def __init__(
        self, places: Iterable[Place], *, ambiguous: frozenset[str] = frozenset(), version: str = ""
    ) -> None:
        self._places = {p.path: p for p in places}
        self.ambiguous = ambiguous
        self.version = version
        self._index = _name_index(list(self._places.values()))
        self._longest = max((len(n) for n in self._index), default=0)
        self._shapes = {p.path: s for p in self._places.values() if (s := p.shape()) is not None}
        for shape in self._shapes.values():
            shapely.prepare(shape)
        self._children: dict[str, list[str]] = {}
        for path in self._shapes:
            self._children.setdefault(self._places[path].parent, []).append(path)

    @classmethod
    def load(cls, path: Path | str) -> Gazetteer:
        text, name = read_operator_file(path)
        return cls.from_text(text, file=name)

    @classmethod
    def from_text(cls, text: str, *, file: str = "<places>") -> Gazetteer:
        data = parse_places(text, file=file)
        return cls(data.places, ambiguous=data.ambiguous, version=data.version)

    def check_owners(self, directory: OwnerDirectory, *, file: str = "places.yaml") -> None:
        """ConfigError listing every disagreement with the owner directory."""
        problems = owner_problems(tuple(self._places.values()), directory)
        if problems:
            raise ConfigError("；".join(problems), file=file)

    def get(self, path: str) -> Place | None:
        return self._places.get(path)

    def all(self) -> list[Place]:
        return list(self._places.values())

    # --- addresses -----------------------------------------------------------------------
    def resolve_address(self, text: str) -> PlaceMatch:
        """The deepest place ``text`` names, with which words matched and how sure."""
        said = normalise(text)
        hits = self._scan(said)
        if not hits:
            return PlaceMatch(None, None, None, False, unknown_address(text), source="none")
        scores = self._support(hits)
        ranked = sorted(scores, key=lambda p: (-scores[p], -p.count("."), p))
        best = ranked[0]
        tied = [p for p in ranked if scores[p] == scores[best] and p.count(".") == best.count(".")]
        matched = tuple(h for group in hits for h in group)
        candidates = tuple(Candidate(p, self._places[p].name, scores[p]) for p in ranked)
        if len(tied) > 1:
            return self._tie(text, matched, candidates, tied)
        place = self._places[best]
        contradicting = [g[0] for g in hits if not any(within(best, h.path) for h in g)]
        ref = building_after(said[self._end_of(best, matched) :])
        ref = ref if place.level == "compound" else BuildingRef()
        in_range = (
            place.buildings is None or ref.building is None or ref.building in place.buildings
        )
        confident = not contradicting and in_range
        explanation = address_text(text, matched, place, ref, contradicting)
        return PlaceMatch(
            best, place.level, place.name, confident, explanation, matched,
            () if confident else candidates, ref.building, ref.unit,
        )  # fmt: skip

    def _tie(
        self, text: str, matched: tuple[NameHit, ...], candidates: tuple[Candidate, ...],
        tied: list[str],
    ) -> PlaceMatch:  # fmt: skip
        common = _common_ancestor(tied)
        place = self._places.get(common)
        explanation = tie_text(text, matched, place, [self._places[p] for p in tied])
        if place is None:
            return PlaceMatch(None, None, None, False, explanation, matched, candidates)
        return PlaceMatch(common, place.level, place.name, False, explanation, matched, candidates)

    def _scan(self, said: str) -> list[list[NameHit]]:
        """Longest known name at each position, left to right; one group per name found."""
        groups: list[list[NameHit]] = []
        i = 0
        while i < len(said):
            for size in range(min(self._longest, len(said) - i), 1, -1):
                entries = self._index.get(said[i : i + size])
                if entries:
                    words = said[i : i + size]
                    groups.append([NameHit(words, p.path, p.name, k, i) for p, k in entries])
                    i += size
                    break
            else:
                i += 1
        return groups

    def _support(self, hits: list[list[NameHit]]) -> dict[str, float]:
        """Per place named: the share of names found that name it or an ancestor."""
        named = {h.path for g in hits for h in g}
        return {p: sum(any(within(p, h.path) for h in g) for g in hits) / len(hits) for p in named}

    @staticmethod
    def _end_of(path: str, matched: tuple[NameHit, ...]) -> int:
        ends = [h.start + len(h.said) for h in matched if h.path == path]
        return max(ends, default=0)

    # --- points --------------------------------------------------------------------------
    def resolve_point(self, lat: float, lon: float) -> PlaceMatch:
        """The deepest area whose boundary covers (lat, lon); unknown outside them all."""
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise ValueError(f"坐标超出范围 (lat {lat}, lon {lon} out of range)")
        point, current, border = Point(lon, lat), "", []
        while True:
            inside = [p for p in self._children.get(current, []) if self._shapes[p].covers(point)]
            if len(inside) != 1:
                border = inside
                break
            current = inside[0]
        place = self._places.get(current)
        text = point_text(lat, lon, place, [self._places[p] for p in border])
        candidates = tuple(Candidate(p, self._places[p].name, 1 / len(border)) for p in border)
        if place is None:
            return PlaceMatch(None, None, None, False, text, candidates=candidates, source="point")
        return PlaceMatch(current, place.level, place.name, not border, text,
                          candidates=candidates, source="point")  # fmt: skip

    # --- both ----------------------------------------------------------------------------
    def resolve(
        self, address: str | None = None, point: tuple[float, float] | None = None
    ) -> PlaceMatch:
        """From an address and/or a (lat, lon) point; see the module docstring."""
        by_text = self.resolve_address(address) if address else None
        by_point = self.resolve_point(*point) if point is not None else None
        if by_text is None or by_point is None:
            found = by_text or by_point
            if found is None:
                return PlaceMatch(
                    None, None, None, False, "未给出地址或坐标，地点未知", source="none"
                )
            return found
        return _combine(by_text, by_point)


def _combine(text: PlaceMatch, point: PlaceMatch) -> PlaceMatch:
    explanation = disagreement_text(text, point)
    both = "address+point"
    if text.path is None or point.path is None:
        chosen = point if text.path is None else text
        return _with(chosen, explanation, chosen.confident, both)
    if within(text.path, point.path) or within(point.path, text.path):
        deeper = text if text.path.count(".") >= point.path.count(".") else point
        return _with(deeper, explanation, text.confident or point.confident, both, text)
    if text.confident:
        return _with(text, explanation, True, both)
    extra = Candidate(point.path, point.name or point.path, 0.5)
    return _with(text, explanation, False, both, candidates=(*text.candidates, extra))


def _with(
    base: PlaceMatch, explanation: str, confident: bool, source: str,
    words: PlaceMatch | None = None, candidates: tuple[Candidate, ...] | None = None,
) -> PlaceMatch:  # fmt: skip
    words = words or base
    return PlaceMatch(
        base.path, base.level, base.name, confident, explanation, words.matched,
        base.candidates if candidates is None else candidates,
        words.building, words.unit, source,
    )  # fmt: skip


def _common_ancestor(paths: list[str]) -> str:
    parts = [p.split(".") for p in paths]
    common: list[str] = []
    for segments in zip(*parts, strict=False):
        if len(set(segments)) != 1:
            break
        common.append(segments[0])
    return ".".join(common)


def _name_index(places: list[Place]) -> dict[str, list[tuple[Place, str]]]:
    """Normalised name → (place, kind): the file's names, then the generated variants that
    no other place's name starts with and that only one place generates."""
    index: dict[str, list[tuple[Place, str]]] = {}
    for place in places:
        for name, kind in dict(place.names()).items():
            index.setdefault(name, []).append((place, kind))
    generated: dict[str, list[Place]] = {}
    for place in places:
        for variant in name_variants(normalise(place.name), place.level):
            generated.setdefault(variant, []).append(place)
    for variant, owners in generated.items():
        clash = any(n.startswith(variant) and e[0] is not owners[0]
                    for n, es in index.items() for e in es)  # fmt: skip
        if len(owners) == 1 and not clash:
            index[variant] = [(owners[0], "variant")]
    return index
