"""Intake's rules as data: duplicate matching, early-warning thresholds, key persons.

Pure: the service layer fetches candidates and counts and asks these functions what they
mean. ``config/alerts.yaml`` holds the numbers (see :meth:`IntakePolicy.from_text`).
"""

from __future__ import annotations

import difflib
import functools
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.domain.errors import ConfigError
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
    petitions: int = Field(default=3, ge=2)
    window_days: int = Field(default=365, ge=1)


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

    @classmethod
    def load(cls, path: Path | str) -> IntakePolicy:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"无法读取 (cannot read): {exc}", file=str(path)) from exc
        return cls.from_text(text, file=path.name)

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


def similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def suggested_duplicates(
    text: str, candidates: list[tuple[Any, str]], policy: DuplicatePolicy
) -> list[tuple[Any, float]]:
    """Candidates whose text is similar enough to be suggested (never linked), best first.

    The full ratio is quadratic in the texts' length; a candidate whose cheap upper bounds
    (``real_quick_ratio``, ``quick_ratio``: never below the ratio) are under the threshold
    cannot be a hit, so only the others pay for it. Same hits, same scores.
    """
    threshold = policy.similarity_threshold
    floor = threshold - 0.0005  # a ratio that rounds (3 places) up to the threshold counts
    hits = []
    for cid, other in candidates:
        matcher = difflib.SequenceMatcher(None, text, other, autojunk=False)
        if matcher.real_quick_ratio() < floor or matcher.quick_ratio() < floor:
            continue
        score = round(matcher.ratio(), 3)
        if score >= threshold:
            hits.append((cid, score))
    return sorted(hits, key=lambda h: -h[1])


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
