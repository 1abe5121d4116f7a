"""Intake's record of a case as a channel sees it, kept from the router's events, without I/O.

:class:`IntakeCase` holds what the status events change on ``intake.cases``: the status a
channel reads (and when it moved), its detail (``owners``, ``lead``, ``result``,
``close_kind``, and whatever else a submission or a rating stored there) and ``holders``
(dispatch id → owner, ``None`` once the dispatch ended: only an owner holding a live
dispatch sees the petitioner, issue 17). Its methods are named for what happened; each
records the columns it changes (:attr:`IntakeCase.changes`) and writes nothing: the unit
of work (``services/intake/unit_of_work.py``) writes them in one statement.

**Decision:** this is a view of the router's decisions, not an authority, so an event
that would move it back arrived late (a redelivery, or lanes of another consumer) and
is ignored rather than refused: a dead letter would lose the rest of the event (its
owners, its result). The rules:

- ``dispatched`` and ``acknowledged`` move the status only forward (:data:`RANK`); a
  status this table does not know is never moved by them;
- ``resolved`` moves it from any status before resolution (:data:`BEFORE_RESOLVED`),
  ``closed`` from any, ``reopened`` (the router's second handling, already dispatched)
  back to ``dispatched`` from ``resolved`` or ``rated``;
- an ended dispatch stays in ``holders`` as ``None``, so its ``case.dispatched``
  redelivered cannot bring it back; a live dispatch of the same owner still counts. An
  entry keyed by the owner itself is a case dispatched before dispatches were kept
  (migration intake_0006): that owner's first return or cancellation ends it;
- ``owners`` are the owners holding a live dispatch, sorted, each once; ``lead`` is the
  lead of the latest dispatching while one of its dispatches is live, and drops when
  none is (no lead until the next dispatching).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from shared.domain.intake_rules import places
from shared.domain.intake_submission import STATUS_RANK

# A rated case (the petitioner answered, services/intake/api/feedback.py) is as far on as a
# resolved one: a late dispatched or acknowledged never moves it back.
RANK = STATUS_RANK | {"rated": STATUS_RANK["resolved"]}
BEHIND_DISPATCHED = tuple(sorted(s for s, r in RANK.items() if r < RANK["dispatched"]))
BEFORE_RESOLVED = frozenset({"received", "dispatched", "acknowledged", "in_progress", "disputed"})
REOPENABLE = frozenset({"resolved", "rated"})

Holders = dict[str, str | None]


def live_owners(holders: Mapping[str, str | None]) -> list[str]:
    """The owners holding a live dispatch, sorted, each once."""
    return sorted({owner for owner in holders.values() if owner})


def classification(category: str, location: dict[str, Any]) -> dict[str, Any]:
    """The columns a person's decision of matter and place (``case.classified``) sets:
    the category, the location and the full path of its levels that matching and alerts
    count by."""
    where = places(location)
    return {
        "category": category,
        "location": location,
        "community": where["community"],
        "grid": where["grid"],
        "compound": where["compound"],
    }


@dataclass(eq=False)
class IntakeCase:
    """One case's channel view, as stored when it was loaded, plus what changed since."""

    case_id: UUID
    status: str
    status_at: datetime
    detail: dict[str, Any] = field(default_factory=dict)
    holders: Holders = field(default_factory=dict)
    changes: dict[str, Any] = field(default_factory=dict)  # column → value to write

    def dispatched(self, holders: Mapping[str, str], lead: str | None, at: datetime) -> None:
        """The router dispatched the case (``holders``: each new dispatch's owner): an
        entry already known, live or ended, stays as it is."""
        merged: Holders = {**holders, **self.holders}
        detail = self.detail | {"owners": live_owners(merged)}
        if lead is not None and lead in detail["owners"]:
            detail["lead"] = lead
        self._set(holders=merged, status_detail=detail)
        self._forward("dispatched", at)

    def acknowledged(self, at: datetime) -> None:
        self._forward("acknowledged", at)

    def dispatch_ended(self, dispatch_id: UUID, owner_id: str) -> None:
        """A dispatch was returned or cancelled: its owner no longer holds the case
        through it."""
        holders: Holders = {k: v for k, v in self.holders.items() if k != owner_id}
        holders[str(dispatch_id)] = None
        detail = self.detail | {"owners": live_owners(holders)}
        if detail.get("lead") not in detail["owners"]:
            detail.pop("lead", None)
        self._set(holders=holders, status_detail=detail)

    def resolved(self, outcome: str, summary: str, lead_owner_id: str, at: datetime) -> None:
        """The case was resolved: the channel may rate it, and sees the result (kept even
        when the status has moved on, e.g. a late event after the closure)."""
        if self.status in BEFORE_RESOLVED:
            self._move("resolved", at)
        result = {"outcome": outcome, "summary": summary, "lead_owner_id": lead_owner_id,
                  "at": at.isoformat()}  # fmt: skip
        self._set(status_detail=self.detail | {"result": result})

    def closed(self, kind: str, at: datetime) -> None:
        self._move("closed", at)
        self._set(status_detail=self.detail | {"close_kind": kind})

    def reopened(self, at: datetime) -> None:
        """A second handling: the router reopens and redispatches in one transaction."""
        if self.status in REOPENABLE:
            self._move("dispatched", at)

    def _forward(self, status: str, at: datetime) -> None:
        if self.status in RANK and RANK[self.status] < RANK[status]:
            self._move(status, at)

    def _move(self, status: str, at: datetime) -> None:
        self.status, self.status_at = status, at
        self.changes |= {"status": status, "status_at": at}

    def _set(self, *, holders: Holders | None = None, status_detail: dict[str, Any]) -> None:
        if holders is not None and holders != self.holders:
            self.holders = holders
            self.changes["holders"] = holders
        if status_detail != self.detail:
            self.detail = status_detail
            self.changes["status_detail"] = status_detail
