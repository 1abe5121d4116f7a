"""The world a seeded history is planned against: the real rules, owner directory, working
calendar and escalation policy, and one template per (category, place) routed once by the
real :func:`shared.domain.routing.route` (a place where the rules give no lead, or a known
dispute, is left out: disputed cases and whistles are not modelled).

Ids are UUIDv7 in the layout :func:`shared.ids.new_id` makes, but stamped with the
historical instant, so stored keys keep the time order they would have had.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson

from services.escalation.ladder import next_reachable, rungs_above
from services.escalation.policy import EscalationPolicy
from shared.calendar_watch import load_calendar
from shared.domain.calendar import WorkingCalendar
from shared.domain.owners import OwnerDirectory
from shared.domain.routing import RuleSet, route
from shared.domain.rules import DeadlineSpec
from shared.domain.taxonomy import Location
from shared.settings import Settings

COMPOUNDS = {  # the sample district's compounds, as a channel submits them (codes)
    "xingfu": {"district": "d01", "street": "s01", "community": "c01", "grid": "g01", "compound": "k01"},
    "jinxiu": {"district": "d01", "street": "s01", "community": "c01", "grid": "g02", "compound": "k01"},
    "guangming": {"district": "d01", "street": "s01", "community": "c02", "grid": "g01", "compound": "k01"},
    "heping": {"district": "d01", "street": "s02", "community": "c01", "grid": "g01", "compound": "k01"},
}  # fmt: skip
STREET_MATTERS = ("sanitation.garbage", "public.streetlight")  # also filed at the grid
CATEGORY_WEIGHTS = {
    "neighbour.dispute": 10, "sanitation.garbage": 10, "property.repair": 10,
    "neighbour.renovation_noise": 8, "property.water_leak": 7, "property.fee": 6,
    "property.parking": 6, "property.elevator": 6, "environment.cooking_fume": 5,
    "policy.implementation": 5, "public.streetlight": 4, "fire.ebike_charging": 4,
    "property.security": 3, "family.dispute": 3, "animal.stray_dog": 2,
    "policy.elevator_retrofit": 2, "housing.delivery_risk": 2,
    "neighbour.high_altitude_throwing": 2, "family.violence": 1,
}  # fmt: skip
CHANNEL_WEIGHTS = {
    "hotline_12345": 45, "grid_app": 20, "wechat": 15, "walk_in": 10,
    "grid_patrol": 5, "superior_transfer": 5,
}  # fmt: skip
LIVES = {"satisfied": 73, "no_feedback": 15, "late": 8, "explained": 3}
HOUR_WEIGHTS = [1, 1, 1, 1, 1, 2, 4, 8, 14, 16, 15, 13, 10, 12, 14, 14, 12, 10, 8, 7, 6, 4, 3, 2]


def uuid7_at(t: datetime, rng: random.Random) -> UUID:
    """A UUIDv7 (RFC 9562 layout, as ``uuid_utils.uuid7``) for the instant ``t``."""
    bits = rng.getrandbits(74)
    value = (int(t.timestamp() * 1000) << 80) | (0x7 << 76) | ((bits >> 62) << 64) | (0b10 << 62)
    return UUID(int=value | (bits & ((1 << 62) - 1)))


def within(a: datetime, b: datetime, rng: random.Random, lo: float, hi: float) -> datetime:
    """A random instant between ``lo`` and ``hi`` of the way from ``a`` to ``b``."""
    return a + (b - a) * rng.uniform(lo, hi)


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


@dataclass(frozen=True)
class Spec:
    """A clock length with its unit read once (``DeadlineSpec.unit`` recomputes per call)."""

    unit: str
    amount: int | float
    text: str

    @classmethod
    def of(cls, spec: DeadlineSpec) -> Spec:
        return cls(spec.unit, spec.amount, str(spec))

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Template:
    """One (category, place) as the router routes it, computed once with the real rules."""

    category: str
    label: str
    location: dict[str, str | None]  # as submitted (codes), as intake and router store it
    places: dict[str, str | None]  # full paths by level
    decision: str  # routing_decisions.decision, JSON
    rule_id: str | None
    ruleset_version: str
    tier: str
    urgency: str
    owners: list[tuple[str, str, str]]  # (owner_id, role, name), lead first
    acknowledge: Spec
    resolve: Spec
    keep: Spec | None
    rung: tuple[str, str, int] | None  # the lead's first rung up: (owner_id, kind, index)
    escalation_policy: dict[str, Any]


@dataclass(frozen=True)
class World:
    """What every case is planned against (built once per process)."""

    rules: RuleSet
    owners: OwnerDirectory
    calendar: WorkingCalendar
    policy: EscalationPolicy
    templates: list[Template]
    weights: list[int]

    @classmethod
    def load(cls, settings: Settings) -> World:
        rules = RuleSet.load(settings.rules_file)
        owners = OwnerDirectory.load(settings.owners_file)
        calendar = load_calendar(settings.calendar_dir)
        policy = EscalationPolicy()
        templates, weights = [], []
        for category in rules.categories:
            for submitted in _places_for(category):
                t = _template(rules, owners, policy, category, submitted)
                if t is not None:
                    templates.append(t)
                    weights.append(CATEGORY_WEIGHTS.get(category, 1))
        return cls(rules, owners, calendar, policy, templates, weights)


def _places_for(category: str) -> list[dict[str, str | None]]:
    places: list[dict[str, str | None]] = [dict(c) for c in COMPOUNDS.values()]
    if category in STREET_MATTERS:
        places += [dict(c, compound=None) for c in COMPOUNDS.values()]
    return places


def _template(
    rules: RuleSet,
    owners: OwnerDirectory,
    policy: EscalationPolicy,
    category: str,
    submitted: dict[str, str | None],
) -> Template | None:
    """None for a place where the rules give no lead or a known dispute (not modelled)."""
    where = Location(**{k: v for k, v in submitted.items() if v})
    d = route(rules, owners, category=category, location=where)
    if d.lead_owner_id is None or d.disputed:
        return None
    listed = [(d.lead_owner_id, "lead"), *((o, "co_handler") for o in d.co_handler_ids)]
    step = next_reachable(rungs_above(owners, d.lead_owner_id, where), 0)
    rung = None
    if step.owner is not None:
        kind = rungs_above(owners, d.lead_owner_id, where)[step.index].kind.value
        rung = (step.owner.id, kind, step.index)
    return Template(
        category=category,
        label=rules.categories[category],
        location=submitted,
        places=where.by_level(),
        decision=dumps(d.model_dump(mode="json")),
        rule_id=d.matched_rule_id,
        ruleset_version=d.ruleset_version,
        tier=d.tier.value,
        urgency=d.urgency.value,
        owners=[(o, role, d.owner_names.get(o, o)) for o, role in listed],
        acknowledge=Spec.of(d.acknowledge_within),
        resolve=Spec.of(d.resolve_within),
        keep=Spec.of(d.keep_in_touch) if d.keep_in_touch else None,
        rung=rung,
        escalation_policy=policy.frozen() | {"location": where.by_level(), "category": category},
    )
