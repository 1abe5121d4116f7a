"""What the router's handlers and routes need besides a connection: rules, owners, calendar.

:class:`RouterDeps` is the one object handlers and routes hold; the configuration in it
(:class:`RouterConfig`) is replaced whole when the files change and are valid
(:meth:`RouterDeps.watch`, see :mod:`shared.config_watch`), so a new dispatch records the
new rules version while a bad edit leaves the last good set routing. Read ``rules`` and
``owners`` without an ``await`` between them (or take ``config`` once) to see one set.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from shared.calendar_watch import load_calendar
from shared.config_watch import ConfigWatch, fingerprint
from shared.domain.calendar import WorkingCalendar
from shared.domain.owners import OwnerDirectory
from shared.domain.places import Gazetteer
from shared.domain.routing import DeadlineSpec, Location, RoutingDecision, RuleSet, Urgency, route
from shared.settings import Settings


@dataclass(frozen=True)
class RouterConfig:
    """One valid set of the operator's files: the rules checked against the owners."""

    rules: RuleSet
    owners: OwnerDirectory
    calendar: WorkingCalendar
    places: Gazetteer | None = None  # the places' names (for what people read), if any

    @classmethod
    def load(cls, settings: Settings) -> RouterConfig:
        """Raise ConfigError (file, line, reason) when any file is wrong."""
        rules = RuleSet.load(settings.rules_file)
        owners = OwnerDirectory.load(settings.owners_file)
        rules.check_owners(owners)
        places = Gazetteer.load(settings.places_file) if settings.places_file.exists() else None
        return cls(rules=rules, owners=owners, calendar=load_calendar(settings.calendar_dir),
                   places=places)  # fmt: skip

    def describe(self) -> dict[str, str]:
        return {"rules_version": self.rules.version, "owners_version": self.owners.version}


def config_paths(settings: Settings) -> list[Path]:
    return [settings.rules_file, settings.owners_file, settings.calendar_dir, settings.places_file]


_DECISIONS_MAX = 10_000


class RouterDeps:
    def __init__(self, config: RouterConfig, *, seen: str | None = None) -> None:
        self.config = config
        self._seen = seen
        self._decisions: dict[tuple[Any, ...], RoutingDecision] = {}
        self._stored: dict[int, tuple[RoutingDecision, dict[str, Any]]] = {}

    @classmethod
    def load(cls, settings: Settings) -> RouterDeps:
        seen = fingerprint(config_paths(settings))
        return cls(RouterConfig.load(settings), seen=seen)

    @property
    def rules(self) -> RuleSet:
        return self.config.rules

    @property
    def owners(self) -> OwnerDirectory:
        return self.config.owners

    def place_name(self, path: str | None) -> str:
        """A place path by its name in the gazetteer (``锦绣花园``), else the path."""
        found = self.config.places.get(path) if self.config.places and path else None
        return found.name if found is not None else (path or "全市")

    @property
    def calendar(self) -> WorkingCalendar:
        return self.config.calendar

    def due(self, start: datetime, within: DeadlineSpec) -> datetime:
        return self.calendar.add(start, within)

    def replace(self, config: RouterConfig) -> None:
        self.config = config
        self._decisions, self._stored = {}, {}

    def decide(
        self,
        *,
        category: str,
        location: Location,
        urgency: Urgency,
        community_convenes: bool = False,
    ) -> RoutingDecision:
        """``route`` for a new case, remembered per (category, place, urgency).

        A decision depends only on those and the configuration (the decision is frozen, and
        the cache is dropped with the configuration on a reload), and a district has few
        distinct places and categories, so most cases are routed by a dictionary look-up.
        Bounded: past ``_DECISIONS_MAX`` entries the cache starts over.
        """
        key = (category, tuple(location.model_dump().items()), urgency, community_convenes)
        found = self._decisions.get(key)
        if found is None:
            config = self.config
            found = route(
                config.rules,
                config.owners,
                category=category,
                location=location,
                urgency=urgency,
                community_convenes=community_convenes,
            )
            if len(self._decisions) >= _DECISIONS_MAX:
                self._decisions, self._stored = {}, {}
            if config is self.config:
                self._decisions[key] = found
        return found

    def stored_form(self, decision: RoutingDecision) -> dict[str, Any]:
        """The decision as its routing_decisions row stores it (JSON types), made once per
        decision object (a remembered decision serves every case of its key). Kept beside
        the decision, by identity, not on it: a copy never inherits it. Bounded like the
        decisions. Shared by the rows of that decision: read-only."""
        held = self._stored.get(id(decision))
        if held is not None and held[0] is decision:  # held keeps it alive: ids stay unique
            return held[1]
        if len(self._stored) >= _DECISIONS_MAX:
            self._stored = {}
        json = decision.model_dump(mode="json")
        self._stored[id(decision)] = (decision, json)
        return json

    def watch(self, settings: Settings, interval: float = 2.0) -> ConfigWatch[RouterConfig]:
        """The background job that reloads this object's configuration from disk."""
        return ConfigWatch(
            "router",
            paths=config_paths(settings),
            load=lambda: RouterConfig.load(settings),
            apply=self.replace,
            describe=RouterConfig.describe,
            interval=interval,
            seen=self._seen,
        )
