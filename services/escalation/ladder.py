"""Pure rules of the ladder (督办) and reminders (催办): no I/O, time passed in.

The ladder of a case is its location's petition ladder (community → street office →
district petition bureau → city petition bureau). It starts at the office of the case's own
area, for every kind of owner: a property firm, a maintenance unit, a street team or a
district bureau is first supervised by the community of the place, then the street (they
supervise on the ground). Only an owner that is itself on the ladder starts one rung above
its own kind (a community's dispatch goes to the street). When several clocks of one case
are overdue, the case climbs once, from the highest of their starts (:func:`start_for`). A
rung nobody serves at the location, or an owner configured as unreachable, is skipped with
a reason that goes on the timeline: never stalled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.domain.owners import KIND_LABELS, LADDER_KINDS, Owner, OwnerDirectory, OwnerKind
from shared.domain.taxonomy import Location


@dataclass(frozen=True)
class Rung:
    kind: OwnerKind
    owner: Owner | None


@dataclass(frozen=True)
class NextStep:
    index: int
    owner: Owner | None  # None: the top was passed with nobody left
    skipped: list[str]


def ladder_of(directory: OwnerDirectory, location: Location) -> list[Rung]:
    """Every rung of the place, lowest first (a rung with nobody there has ``owner=None``)."""
    return [Rung(kind, directory.serving(kind, location)) for kind in LADDER_KINDS]


def first_rung(directory: OwnerDirectory, owner_id: str) -> int:
    """Where a dispatch of ``owner_id`` starts on the ladder: the office of the case's own
    area (0), whatever the owner's kind; an owner on the ladder one rung above its own."""
    owner = directory.get(owner_id)
    if owner is not None and owner.kind in LADDER_KINDS:
        return LADDER_KINDS.index(owner.kind) + 1
    return 0


def start_for(directory: OwnerDirectory, owner_ids: list[str]) -> int:
    """The first rung above every overdue owner of one case (one escalation names them all)."""
    return max((first_rung(directory, o) for o in owner_ids), default=0)


def rungs_above(directory: OwnerDirectory, owner_id: str, location: Location) -> list[Rung]:
    """The rungs a dispatch of ``owner_id`` at ``location`` climbs, lowest first."""
    return ladder_of(directory, location)[first_rung(directory, owner_id) :]


def next_reachable(
    rungs: list[Rung], start: int, *, unreachable: frozenset[str] = frozenset()
) -> NextStep:
    """The first rung from ``start`` with somebody reachable, and why each earlier was skipped."""
    skipped: list[str] = []
    for index in range(start, len(rungs)):
        rung = rungs[index]
        label = KIND_LABELS[rung.kind]
        if rung.owner is None:
            skipped.append(f"{label}：该地点无此级单位，跳过 (no {rung.kind.value} here)")
        elif rung.owner.id in unreachable:
            skipped.append(f"{label} {rung.owner.name}：无法联系，跳过 (unreachable)")
        else:
            return NextStep(index, rung.owner, skipped)
    return NextStep(len(rungs), None, skipped)


def remind_at(start: datetime, due: datetime, share: float) -> datetime | None:
    """When the reminder goes: ``share`` of the way from ``start`` to ``due`` (None if no time)."""
    if due <= start:
        return None
    return start + (due - start) * share


def whistle_blower(directory: OwnerDirectory, location: Location) -> Owner | None:
    """The street office of the place; else the next rung up that exists."""
    for kind in LADDER_KINDS[1:]:
        owner = directory.serving(kind, location)
        if owner is not None:
            return owner
    return None


def may_decide(directory: OwnerDirectory, supervisor_owner: str | None, blown_by: str) -> bool:
    """A supervisor decides a whistle blown by its own office or one below it."""
    return supervisor_owner is not None and any(
        o.id == supervisor_owner for o in directory.chain(blown_by)
    )


CLOCK_CN = {
    "acknowledge": "签收",
    "progress": "进展报告",
    "resolve": "办结",
    "report_in": "报到",
    "triage": "派单",
}
