"""The case (诉求) as an aggregate: its state, its version and the facts its rules need.

Each method is named for what happens (``case.close(...)``, ``case.reopen(...)``); it runs
the lifecycle's state machine (:mod:`shared.domain.lifecycle`) with a typed trigger,
counts the move (the stored ``version`` grows by one per move) and records the timeline
entry and the event it causes in the case's ``journal``. Nothing here writes: the router's
unit of work (``services/router/unit_of_work.py``) loads cases, and writes state,
version, timeline rows and outbox events once, at commit.

Rules of the case that used to live in handlers live here: how a rating closes a case
(:func:`close_kind`) and who leads a second handling (:func:`second_handling_plan`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel

from shared.contracts.events import CaseClosed, CaseReopened, CaseResolved
from shared.domain.journal import Changes, Emitted, Entry, Recorded
from shared.domain.lifecycle import (
    CaseState,
    DispatchRole,
    DispatchState,
    fire_case,
    resolution_context,
)
from shared.domain.taxonomy import CloseKind, Rating

Outcome = Literal["resolved", "explained", "referred"]  # what a department reports
UrgencyName = Literal["emergency", "urgent", "normal"]
RATING_CN = {"satisfied": "满意", "basically_satisfied": "基本满意", "unsatisfied": "不满意"}


class CaseTrigger(StrEnum):
    """The case lifecycle's triggers (the names in ``CASE_TRANSITIONS``)."""

    TRIAGE = "triage"
    HOLD = "hold"
    DISPATCH = "dispatch"
    START_PROGRESS = "start_progress"
    RESOLVE = "resolve"
    REQUEST_FEEDBACK = "request_feedback"
    CLOSE = "close"
    REOPEN = "reopen"
    REROUTE = "reroute"
    DISPUTE = "dispute"
    REDISPATCH = "redispatch"
    MERGE = "merge"


IN_HAND = frozenset({CaseState.DISPATCHED, CaseState.IN_PROGRESS})


def close_kind(rating: Rating, *, second_handling: bool, outcome: CloseKind) -> CloseKind | None:
    """How a rating closes the case, or None when it reopens it (二次办理).

    Satisfied / basically satisfied close with the lead's outcome; unsatisfied reopens
    once, and after a second handling can only close as ``explained``.
    """
    if rating is not Rating.UNSATISFIED:
        return outcome
    return CloseKind.EXPLAINED if second_handling else None


@dataclass(frozen=True)
class SecondHandling:
    """Who handles the case again: the lead, the co-handlers, and the lead before."""

    lead: str
    co_handlers: list[str]
    previous_lead: str | None


def second_handling_plan(
    *, secretary: str | None, previous_lead: str | None, routed_lead: str | None
) -> SecondHandling:
    """二次办理 is led by the community secretary serving the case's place; the first lead
    (else the rules' lead) joins as co-handler. No secretary: the first lead leads again."""
    first = previous_lead or routed_lead
    lead = secretary or first
    return SecondHandling(
        lead=str(lead), co_handlers=[o for o in [first] if o and o != lead], previous_lead=first
    )


@dataclass(eq=False)
class Case:
    """One case as loaded under lock (or just created), with what its rules read."""

    case_id: UUID
    state: CaseState
    version: int
    ruleset_version: str | None = None
    category: str = ""
    location: dict[str, Any] = field(default_factory=dict)
    urgency: UrgencyName = "normal"
    title: str = ""
    key_person: bool = False
    channel: str = ""
    second_handling: bool = False  # reopened once already (二次办理)
    journal: list[Recorded] = field(default_factory=list)
    changes: Changes = field(default_factory=Changes)

    @classmethod
    def received(
        cls,
        case_id: UUID,
        at: datetime,
        *,
        actor: str,
        reason: str,
        ruleset_version: str | None,
        category: str,
        location: dict[str, Any],
        urgency: UrgencyName,
        title: str,
        key_person: bool,
        channel: str,
    ) -> Case:
        """A case intake just received (受理), not stored yet: version 0, and its first
        timeline entry. Each move after this one adds one to the version it is stored with
        (received, triaged and dispatched: version 2)."""
        case = cls(
            case_id=case_id, state=CaseState.RECEIVED, version=0,
            ruleset_version=ruleset_version, category=category, location=location,
            urgency=urgency, title=title, key_person=key_person, channel=channel,
        )  # fmt: skip
        case.journal.append(
            Entry(case_id=case_id, at=at, actor=actor, action="received",
                  to_state=CaseState.RECEIVED.value, reason=reason)
        )  # fmt: skip
        return case

    @property
    def in_hand(self) -> bool:
        return self.state in IN_HAND

    def _move(
        self,
        trigger: CaseTrigger,
        at: datetime,
        *,
        actor: str,
        reason: str,
        action: str | None = None,
        detail: dict[str, Any] | None = None,
        rule_version: str | None = None,
        **facts: Any,
    ) -> None:
        before = self.state
        self.state = fire_case(before, trigger.value, **facts)
        self.version += 1
        self.changes.moves += 1
        self.note(at, actor=actor, action=action or trigger.value, reason=reason,
                  from_state=before, detail=detail, rule_version=rule_version)  # fmt: skip

    def note(
        self,
        at: datetime,
        *,
        actor: str,
        action: str,
        reason: str | None,
        from_state: CaseState | None = None,
        detail: dict[str, Any] | None = None,
        rule_version: str | None = None,
    ) -> None:
        """A timeline entry that is no transition (``from_state`` None: the state now)."""
        self.journal.append(
            Entry(case_id=self.case_id, at=at, actor=actor, action=action,
                  from_state=(from_state or self.state).value, to_state=self.state.value,
                  reason=reason, rule_version=rule_version or self.ruleset_version,
                  detail=detail)
        )  # fmt: skip

    def emit(self, payload: BaseModel) -> None:
        self.journal.append(Emitted(payload, self.case_id))

    def start_progress(self, at: datetime, *, actor: str, reason: str) -> None:
        self._move(CaseTrigger.START_PROGRESS, at, actor=actor, reason=reason)

    def resolve(
        self,
        dispatches: Iterable[tuple[DispatchRole | str, DispatchState | str]],
        at: datetime,
        *,
        actor: str,
        outcome: Outcome,
        summary: str,
        lead_owner_id: str,
        reason: str,
    ) -> None:
        """The lead resolved and every co-handler reported: resolved, then waiting for
        the petitioner's rating (两步, two timeline entries, one ``case.resolved``)."""
        facts: dict[str, Any] = dict(resolution_context(dispatches))
        self._move(CaseTrigger.RESOLVE, at, actor=actor, reason=reason, **facts)
        self.emit(CaseResolved(case_id=self.case_id, outcome=outcome, summary=summary,
                               lead_owner_id=lead_owner_id, key_person=self.key_person))  # fmt: skip
        self._move(CaseTrigger.REQUEST_FEEDBACK, at, actor="router",
                   reason="待回访：请诉求人评价办理结果")  # fmt: skip

    def triage(
        self,
        at: datetime,
        *,
        actor: str,
        reason: str,
        rule_version: str | None,
        action: str = "triage",
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Its matter and place are known: the rules classified a new case (``triaged``),
        or a dispatcher decided a case waiting in the queue."""
        self._move(CaseTrigger.TRIAGE, at, actor=actor, reason=reason, action=action,
                   rule_version=rule_version, detail=detail)  # fmt: skip

    def hold(self, at: datetime, *, reason: str, detail: dict[str, Any]) -> None:
        """To the dispatchers' queue (待派单): a new case whose matter or place intake's
        triage could not decide, or a disputed one nobody could be convened for."""
        self._move(CaseTrigger.HOLD, at, actor="router", reason=reason, detail=detail)

    def reclassify(
        self,
        *,
        category: str,
        location: dict[str, Any],
        area_path: str | None,
        tier: str,
        rule_id: str | None,
        ruleset_version: str,
    ) -> None:
        """A dispatcher changed its matter and/or place; the rules' new tier and rule
        are kept with it (stored with its next move)."""
        self.category, self.location, self.ruleset_version = category, location, ruleset_version
        self.changes.values |= {
            "category": category, "location": location, "area_path": area_path,
            "tier": tier, "rule_id": rule_id, "ruleset_version": ruleset_version,
        }  # fmt: skip

    def reroute(
        self,
        at: datetime,
        *,
        actor: str,
        reason: str,
        action: str = "reroute",
        rule_version: str | None = None,
    ) -> None:
        """To be routed again: its lead returned it, or its matter or place changed."""
        self._move(CaseTrigger.REROUTE, at, actor=actor, reason=reason, action=action,
                   rule_version=rule_version)  # fmt: skip

    def dispute(
        self,
        at: datetime,
        *,
        actor: str,
        reason: str,
        action: str = "dispute",
        rule_version: str | None = None,
    ) -> None:
        """Nobody owns the matter (or a supervisor blew the whistle): disputed."""
        self._move(CaseTrigger.DISPUTE, at, actor=actor, reason=reason, action=action,
                   rule_version=rule_version)  # fmt: skip

    def dispatch(self, at: datetime, *, reason: str, rule_version: str | None) -> None:
        """To the owners named in ``reason``: a triaged case is dispatched, a rerouted,
        disputed or reopened one dispatched again, and a case in hand keeps its state
        (one timeline entry ``dispatched`` in every case)."""
        before = self.state
        if not self.in_hand:
            trigger = (
                CaseTrigger.DISPATCH if before is CaseState.TRIAGED else CaseTrigger.REDISPATCH
            )
            self.state = fire_case(before, trigger.value)
            self.version += 1
            self.changes.moves += 1
        self.note(at, actor="router", action="dispatched", reason=reason, from_state=before,
                  rule_version=rule_version)  # fmt: skip

    def close_kind(self, rating: Rating, outcome: CloseKind) -> CloseKind | None:
        """How ``rating`` closes this case given the lead's ``outcome`` (None: reopen)."""
        return close_kind(rating, second_handling=self.second_handling, outcome=outcome)

    def close(
        self,
        kind: CloseKind,
        at: datetime,
        *,
        actor: str,
        reason: str,
        rating: Rating | None = None,
        lead_owner_id: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """结案 with ``kind``; emits ``case.closed``."""
        self._move(CaseTrigger.CLOSE, at, actor=actor, reason=reason, action="closed",
                   detail=detail, kind=kind, rating=rating,
                   second_handling=self.second_handling)  # fmt: skip
        self.changes.values["close_kind"] = kind.value
        self.emit(CaseClosed(case_id=self.case_id, kind=kind.value,
                             rating=rating.value if rating else None,
                             lead_owner_id=lead_owner_id))  # fmt: skip

    def close_rated(
        self, rating: Rating, kind: CloseKind, at: datetime, *, actor: str, lead: str | None
    ) -> None:
        """Closed on the petitioner's rating (回访评价)."""
        self.close(kind, at, actor=actor, rating=rating, lead_owner_id=lead,
                   reason=f"回访评价：{RATING_CN[rating.value]}，结案（{kind.value}）",
                   detail={"rating": rating.value, "kind": kind.value,
                           "second_handling": self.second_handling})  # fmt: skip

    def reopen(self, plan: SecondHandling, at: datetime, *, actor: str) -> None:
        """Unsatisfied: reopened for a second handling led as ``plan`` says; emits
        ``case.reopened`` (the caller dispatches the plan)."""
        rating = Rating.UNSATISFIED
        self._move(CaseTrigger.REOPEN, at, actor=actor, action="reopened", rating=rating,
                   reason=f"回访评价：不满意，启动二次办理，由 {plan.lead} 牵头",
                   detail={"rating": rating.value, "lead": plan.lead,
                           "co_handlers": plan.co_handlers})  # fmt: skip
        self.second_handling = True
        self.changes.values["second_handling"] = True
        self.emit(CaseReopened(case_id=self.case_id, rating=rating.value, lead_owner_id=plan.lead,
                               co_handler_ids=plan.co_handlers,
                               previous_lead_owner_id=plan.previous_lead))  # fmt: skip
