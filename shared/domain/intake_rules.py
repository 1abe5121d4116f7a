"""Intake's rules as data: duplicate matching, early-warning thresholds, key persons.

Pure: the service layer fetches candidates and counts and asks these functions what they
mean. ``config/alerts.yaml`` holds the numbers (see :meth:`IntakePolicy.from_text`).
"""

from __future__ import annotations

import functools
import operator
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.domain.errors import ConfigError, read_operator_file
from shared.domain.owners import OwnerKind
from shared.domain.taxonomy import Location

CHANNELS = (
    "hotline_12345",
    "grid_app",
    "wechat",
    "walk_in",
    "superior_transfer",
    "grid_patrol",
)
OPEN_STATUSES = frozenset({"received", "dispatched", "acknowledged", "in_progress", "disputed"})
Level = Literal["compound", "grid", "community"]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DuplicatePolicy(_Strict):
    """``petitioner_window_days: 0`` switches same-petitioner linking off."""

    petitioner_window_days: int = Field(default=30, ge=0, le=365)
    anonymous_window_days: int = Field(default=30, ge=0, le=365)
    similarity_threshold: float = Field(default=0.8, gt=0, le=1)
    max_candidates: int = Field(default=50, ge=1, le=500)


class KeyPersonPolicy(_Strict):
    """``petitions`` within ``window_days`` enter a person by rule (a person who left
    counts again from the day they left); ``review_every_days``: the review cadence."""

    petitions: int = Field(default=3, ge=2)
    window_days: int = Field(default=365, ge=1)
    review_every_days: int = Field(default=90, ge=1, le=730)


class AlertRule(_Strict):
    """At least ``threshold`` cases (or distinct petitioners) of ``category`` in one place."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    category: str = Field(min_length=1, description="fnmatch pattern, e.g. property.*")
    level: Level = "compound"
    threshold: int = Field(ge=2)
    window_days: int = Field(ge=1, le=365)
    kind: Literal["cluster", "collective"] = "cluster"
    priority: Literal["normal", "high"] = "normal"
    notify: tuple[OwnerKind, ...] = (OwnerKind.COMMUNITY,)
    convene: tuple[OwnerKind, ...] = ()

    def matches(self, category: str) -> bool:
        return fnmatchcase(category, self.category)

    def like_pattern(self) -> str | None:
        """The category pattern as SQL LIKE (escape ``\\``), or None if LIKE cannot say it.

        Lets the store count matching cases instead of returning them: ``*`` is ``%``,
        ``?`` is ``_``; a ``[...]`` set has no LIKE form.
        """
        if "[" in self.category:
            return None
        out = []
        for ch in self.category:
            if ch in "%_\\":
                out.append("\\" + ch)
            else:
                out.append({"*": "%", "?": "_"}.get(ch, ch))
        return "".join(out)

    @property
    def window(self) -> timedelta:
        return timedelta(days=self.window_days)

    def reached(self, *, cases: int, petitioners: int) -> bool:
        """Collective rules count distinct petitioners; cluster rules count cases."""
        return (petitioners if self.kind == "collective" else cases) >= self.threshold

    def for_family(self, category: str) -> AlertRule:
        """A collective rule narrowed to one category family at its place (issue 22): the
        rule's pattern (``property.*``) says which families it watches; each family (the
        category itself: 电梯 ``property.elevator``, 收费 ``property.fee``) is counted, locked
        and alerted on its own, as ``<rule id>/<category>``. Elevator and fee complaints are
        two matters, never one 集体访."""
        return self.model_copy(update={"id": f"{self.id}/{category}", "category": category})


class IntakePolicy(_Strict):
    version: str = "0"
    duplicates: DuplicatePolicy = DuplicatePolicy()
    key_persons: KeyPersonPolicy = KeyPersonPolicy()
    alerts: tuple[AlertRule, ...] = ()
    # 回头看: an explained closure (解释结案) is visited again this many days after it closed
    revisit_after_days: int = Field(default=30, ge=1, le=365)

    @classmethod
    def load(cls, path: Path | str) -> IntakePolicy:
        text, name = read_operator_file(path)
        return cls.from_text(text, file=name)

    @classmethod
    def from_text(cls, text: str, *, file: str = "<alerts>") -> IntakePolicy:
        try:
            policy = cls.model_validate(yaml.safe_load(text) or {})
        except (ValidationError, yaml.YAMLError) as exc:
            raise ConfigError(f"预警配置无效 (invalid): {exc}", file=file) from exc
        ids = [r.id for r in policy.alerts]
        if len(ids) != len(set(ids)):
            raise ConfigError("预警规则 id 重复 (duplicate rule id)", file=file)
        return policy

    def rules_for(self, category: str) -> list[AlertRule]:
        """The rules a case of ``category`` counts toward (collective ones for its family)."""
        return [
            r.for_family(category) if r.kind == "collective" else r
            for r in self.alerts
            if r.matches(category)
        ]


def places(location: dict[str, Any]) -> dict[str, str | None]:
    """Full paths of each level of a submitted location (``k01`` → ``d01.s01.c01.g01.k01``).

    Remembered per distinct location (a district has a few thousand places at most, and
    every submission of one asks several times): a fresh dict each call."""
    return dict(_places(tuple((k, v) for k, v in location.items() if v)))


@functools.lru_cache(maxsize=8192)
def _places(given: tuple[tuple[str, Any], ...]) -> tuple[tuple[str, str | None], ...]:
    return tuple(Location(**dict(given)).by_level().items())


SIMILARITY_CHARS = 2000
"""How much of a text (title, newline, description) the similarity looks at."""


def shingles(text: str) -> frozenset[str]:
    """The character bigrams of a text's first :data:`SIMILARITY_CHARS` characters.

    Bigrams, because Chinese has no spaces to split words at and most of its words are two
    characters long. Linear in the text and bounded by the cap."""
    head = text[:SIMILARITY_CHARS]
    if len(head) < 2:
        return frozenset([head] if head else [])
    return frozenset(map(operator.add, head, head[1:]))


def dice(a: frozenset[str], b: frozenset[str]) -> float:
    """Sørensen–Dice: twice the shared bigrams over all of both (1.0 for two empty texts)."""
    if not a and not b:
        return 1.0
    return 2 * len(a & b) / (len(a) + len(b))


def similarity(a: str, b: str) -> float:
    return dice(shingles(a), shingles(b))


def suggested_duplicates(
    text: str, candidates: list[tuple[Any, str]], policy: DuplicatePolicy
) -> list[tuple[Any, float]]:
    """Candidates whose text is similar enough to be suggested (never linked), best first.

    **Decision:** bigram sets compared by Dice, not difflib's ratio. The ratio is quadratic
    in the texts' length (two 5,000-character look-alikes took 13 s, issue 17); this is
    linear, and bounded by :data:`SIMILARITY_CHARS` per text: at most ``max_candidates``
    sets of 2,000 characters, ~15 ms. Its scores are close to the ratio's on the short
    texts people write (one changed phrase: 0.86 against 0.89), so the threshold keeps its
    meaning. Scores are rounded to 3 places, the threshold compared with the rounded one.
    """
    threshold = policy.similarity_threshold
    mine = shingles(text)
    hits = []
    for cid, other in candidates:
        score = round(dice(mine, shingles(other)), 3)
        if score >= threshold:
            hits.append((cid, score))
    return sorted(hits, key=lambda h: -h[1])


def same_matter(
    category: str, where: dict[str, str | None], other: str, other_where: dict[str, str | None]
) -> bool:
    """Whether two cases may be one matter: the same category family (``property`` of
    ``property.elevator``) and the same place, as precisely as both were given (their
    deepest levels are one path; a case placed nowhere is the same matter as none).

    A number a channel names (``related_refs``) links its submission only to the same
    matter: a link lets the channel read the case, so a number alone must not (issue 17)."""
    here, there = _deepest(where), _deepest(other_where)
    family, other_family = category.split(".", 1)[0], other.split(".", 1)[0]
    return here is not None and here == there and family == other_family


def _deepest(where: dict[str, str | None]) -> str | None:
    return next((v for v in reversed(list(where.values())) if v), None)


def window_start(now: datetime, days: int) -> datetime:
    return now - timedelta(days=days)


def is_key_person(petitions_in_window: int, policy: KeyPersonPolicy) -> bool:
    return petitions_in_window >= policy.petitions


def convene_owners(rule: AlertRule, location: dict[str, Any], owners: Any) -> list[Any]:
    """The owners a linked handling convenes (one per kind that serves the place, in order).

    ``owners`` is an :class:`~shared.domain.owners.OwnerDirectory`.
    """
    where = Location(**{k: v for k, v in location.items() if v})
    found = [owners.serving(kind, where) for kind in rule.convene]
    return [o for o in found if o is not None]
