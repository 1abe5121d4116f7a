"""Rule changes, simulated: where past cases would go under a new rules file.

Each past case is routed twice by :func:`shared.domain.routing.route` — under the
**current** rules and owners and under the **new** ones — and both answers are compared
with what the router **stored** when it first routed the case. The headline counts are
*current → new*: the effect of the file change alone, on today's owner directory. Where the
stored first routing differs from today's answer (the case was routed under an older file,
or the directory changed since) the case is counted apart, and an example shows all three.

A destination is who receives dispatches on arrival: the lead and the co-handlers. A case
with no lead by rule, or matched by a rule marked ``disputed``, gets no dispatch and goes to
the whistle (吹哨): its destination has no lead and no co-handlers, so a rule change that
starts or ends a dispute shows as a change of lead.

Pure and bounded: cases are fed one at a time to a :class:`Tally`, which keeps counters
(by category, by owner, lead moves) and at most ``examples`` examples, whatever the number
of cases.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from shared.domain.owners import OwnerDirectory
from shared.domain.routing import Location, RoutingDecision, RuleSet, route

_MEMO_MAX = 50_000  # remembered (category, place) answers per rule set: few in a district
WHISTLE = "吹哨（无主办）"  # how a destination without a lead reads


@dataclass(frozen=True, slots=True)
class Destination:
    """Who gets a dispatch on arrival: ``lead`` None = nobody, the case goes to the whistle."""

    lead: str | None
    co_handlers: tuple[str, ...] = ()

    @classmethod
    def of(cls, lead: str | None, co_handlers: Iterable[str], *, disputed: bool) -> Destination:
        if lead is None or disputed:
            return cls(None)
        return cls(lead, tuple(sorted(co_handlers)))

    @classmethod
    def of_decision(cls, decision: RoutingDecision) -> Destination:
        return cls.of(decision.lead_owner_id, decision.co_handler_ids, disputed=decision.disputed)


@dataclass(frozen=True, slots=True)
class PastCase:
    """A stored case as the simulation needs it; ``stored`` None = no routing stored."""

    case_number: str
    category: str
    location: Location
    stored: Destination | None
    community_convenes: bool = False  # a linked handling (early warning), as the router does


class Routing:
    """One rules file with one owner directory, routing past cases (answers remembered)."""

    def __init__(self, rules: RuleSet, owners: OwnerDirectory) -> None:
        self.rules, self.owners = rules, owners
        self._memo: dict[tuple[str, str, bool], Destination] = {}

    def destination(self, case: PastCase) -> Destination:
        key = (case.category, case.location.path(), case.community_convenes)
        found = self._memo.get(key)
        if found is None:
            if len(self._memo) >= _MEMO_MAX:
                self._memo = {}
            decision = route(
                self.rules, self.owners, category=case.category, location=case.location,
                community_convenes=case.community_convenes,
            )  # fmt: skip
            found = self._memo[key] = Destination.of_decision(decision)
        return found


@dataclass(frozen=True, slots=True)
class Comparison:
    case: PastCase
    current: Destination
    new: Destination

    @property
    def lead_changed(self) -> bool:
        return self.current.lead != self.new.lead

    @property
    def co_changed(self) -> bool:
        return self.current.co_handlers != self.new.co_handlers

    @property
    def stored_differs(self) -> bool:
        """The stored first routing is not what the new rules would give."""
        return self.case.stored is not None and self.case.stored != self.new

    @property
    def drifted(self) -> bool:
        """The stored first routing is not what today's rules give (an older file)."""
        return self.case.stored is not None and self.case.stored != self.current


def compare(case: PastCase, current: Routing, new: Routing) -> Comparison:
    return Comparison(case, current.destination(case), new.destination(case))


@dataclass
class _CategoryCounts:
    cases: int = 0
    lead_changed: int = 0
    co_changed: int = 0
    stored_differs: int = 0


@dataclass
class Tally:
    """Counters over the comparisons fed to :meth:`add`, and the first ``examples`` changes."""

    examples: int = 5
    cases: int = 0
    changed: int = 0  # lead or co-handlers
    skipped: int = 0  # stored cases whose place no longer reads as a place
    without_stored: int = 0
    stored_differs: int = 0
    stored_drifted: int = 0
    categories: dict[str, _CategoryCounts] = field(default_factory=dict)
    moves: Counter[tuple[str | None, str | None]] = field(default_factory=Counter)
    owners: Counter[tuple[str, str]] = field(default_factory=Counter)  # (owner, column)
    changes: list[Comparison] = field(default_factory=list)

    def add(self, c: Comparison) -> None:
        self.cases += 1
        row = self.categories.setdefault(c.case.category, _CategoryCounts())
        row.cases += 1
        row.lead_changed += c.lead_changed
        row.co_changed += c.co_changed
        row.stored_differs += c.stored_differs
        self.stored_differs += c.stored_differs
        self.stored_drifted += c.drifted
        self.without_stored += c.case.stored is None
        if c.lead_changed:
            self.moves[(c.current.lead, c.new.lead)] += 1
        self._count_owners(c)
        if c.lead_changed or c.co_changed:
            self.changed += 1
            if len(self.changes) < self.examples:
                self.changes.append(c)

    def _count_owners(self, c: Comparison) -> None:
        for column, dest in (("now", c.current), ("new", c.new)):
            if dest.lead is not None:
                self.owners[(dest.lead, "lead_" + column)] += 1
            for owner in dest.co_handlers:
                self.owners[(owner, "co_" + column)] += 1
