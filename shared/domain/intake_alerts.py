"""Early warnings (预警), the rules without I/O: which (rule, place) a submission counts
toward, which of them need counting (and locking), and the alert a window's cases raise.

The counts come from the store (``services/intake/signals.py``); an alert is raised
exactly once per (rule, place, window).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from shared.contracts.events import AlertOwner, AlertRaised
from shared.domain.intake_rules import AlertRule, IntakePolicy, convene_owners
from shared.domain.taxonomy import Location

Pair = tuple[str, str]  # (rule id, place)


@dataclass(frozen=True)
class WindowCase:
    """One stored case inside a rule's window at its place."""

    case_id: UUID
    category: str
    petitioner_ref: str | None
    received_at: datetime


def alert_places(policy: IntakePolicy, category: str, places: dict[str, str | None]) -> list[Pair]:
    """The (rule, place) pairs a submission of ``category`` at ``places`` counts toward."""
    return [(r.id, str(places[r.level])) for r in policy.rules_for(category) if places.get(r.level)]


def stands(alerted: dict[Pair, datetime], pair: Pair, now: datetime) -> bool:
    """Whether the window of ``pair`` holding ``now`` already has its alert."""
    return (until := alerted.get(pair)) is not None and until > now


def lock_keys(pairs: Sequence[Pair], now: datetime, standing: dict[Pair, datetime]) -> list[str]:
    """The advisory locks the alert counts of a submission toward ``pairs`` need, taken
    with the petitioner's: none for a (rule, place) whose window's alert already stands at
    ``now`` (``standing``), where the submission counts nothing."""
    return [
        f"alert:{rule}:{place}" for rule, place in pairs if not stands(standing, (rule, place), now)
    ]


def rules_to_count(
    policy: IntakePolicy,
    category: str,
    places: dict[str, str | None],
    alerted: dict[Pair, datetime],
    now: datetime,
) -> list[tuple[AlertRule, str]]:
    """The rules (and their place) a new case of ``category`` may tip over: those whose
    window at the place has no alert yet (``alerted``: a (rule, place)'s window end)."""
    rules = [(r, str(places[r.level])) for r in policy.rules_for(category) if places.get(r.level)]
    return [(r, place) for r, place in rules if not stands(alerted, (r.id, place), now)]


def window_since(rule: AlertRule, now: datetime, last_end: datetime | None) -> datetime:
    """Where the counted window starts: its length back from ``now``, but never before the
    end of the last window alerted (a case counts toward one alert only)."""
    since = now - rule.window
    return max(since, last_end) if last_end else since


def raised_alert(
    rule: AlertRule,
    place: str,
    rows: Sequence[WindowCase],
    location: dict[str, Any],
    owners: Any,
    alert_id: UUID,
) -> AlertRaised | None:
    """The alert the window's cases (oldest first) raise, if they reach the rule's
    threshold: whom it notifies and whom a linked handling convenes (``owners``: an
    :class:`~shared.domain.owners.OwnerDirectory`, or None)."""
    rows = [r for r in rows if rule.matches(r.category)]
    people = {r.petitioner_ref for r in rows if r.petitioner_ref}
    if not rule.reached(cases=len(rows), petitioners=len(people)):
        return None
    start = rows[0].received_at
    where = Location(**{k: v for k, v in location.items() if v})
    found = [owners.serving(k, where) for k in rule.notify] if owners else []
    notify = [o.id for o in found if o is not None]
    convene = [
        AlertOwner(owner_id=o.id, name=o.name, kind=o.kind.value)
        for o in (convene_owners(rule, location, owners) if owners else [])
    ]
    return AlertRaised(
        alert_id=alert_id,
        rule_id=rule.id,
        kind=rule.kind,
        priority=rule.priority,
        category=rule.category,
        level=rule.level,
        place=place,
        window_start=start,
        window_end=start + rule.window,
        case_count=len(rows),
        case_ids=[r.case_id for r in rows],
        notify=notify or [k.value for k in rule.notify],
        convene=convene,
    )


def opens_linked_handling(alert: AlertRaised) -> bool:
    """A cluster alert that convenes owners of a category (not a family) opens a case of
    its own on the ``early_warning`` channel (联动处置)."""
    return alert.kind == "cluster" and bool(alert.convene) and not alert.category.endswith("*")
