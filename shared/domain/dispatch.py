"""The dispatch (派单) as an aggregate: one owner's share of a case, with its clocks.

As :class:`shared.domain.case.Case`: methods named for what happens run the dispatch
lifecycle with a typed trigger, count the move and record the timeline entry (and, where
the dispatch knows all of it, the event) in the shared journal. The unit of work writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel

from shared.contracts.events import DispatchAcknowledged, DispatchCancelled
from shared.domain.journal import Changes, Emitted, Entry, Recorded
from shared.domain.lifecycle import DispatchRole, DispatchState, fire_dispatch
from shared.domain.taxonomy import ReturnReason


class DispatchTrigger(StrEnum):
    """The dispatch lifecycle's triggers (the names in ``DISPATCH_TRANSITIONS``)."""

    ACKNOWLEDGE = "acknowledge"
    START_PROGRESS = "start_progress"
    REQUEST_EXTENSION = "request_extension"
    RESOLVE = "resolve"
    RETURN = "return_dispatch"
    REQUEST_RECONSIDERATION = "request_reconsideration"
    EXPIRE = "expire"
    CANCEL = "cancel"


@dataclass(eq=False)
class Dispatch:
    """One dispatch as loaded under lock, with what its rules and events read."""

    dispatch_id: UUID
    case_id: UUID
    owner_id: str
    role: DispatchRole
    state: DispatchState
    version: int
    ruleset_version: str | None = None
    policy: dict[str, Any] = field(default_factory=dict)
    resolve_due_at: datetime | None = None
    acknowledged_at: datetime | None = None
    outcome: str | None = None  # the owner's reported result (resolved/explained/referred)
    journal: list[Recorded] = field(default_factory=list)
    changes: Changes = field(default_factory=Changes)

    @property
    def role_name(self) -> Literal["lead", "co_handler"]:
        """The role as the contracts name it."""
        return "lead" if self.role is DispatchRole.LEAD else "co_handler"

    @property
    def designated_by(self) -> str | None:
        """The office that named this lead after a whistle (it cannot return the case)."""
        office = self.policy.get("designated_by")
        return str(office) if office else None

    def _move(
        self,
        trigger: DispatchTrigger,
        at: datetime,
        *,
        actor: str,
        action: str,
        reason: str,
        detail: dict[str, Any] | None = None,
        **facts: Any,
    ) -> None:
        before = self.state
        self.state = fire_dispatch(before, trigger.value, **facts)
        self.version += 1
        self.changes.moves += 1
        self.note(at, actor=actor, action=action, reason=reason, from_state=before, detail=detail)

    def note(
        self,
        at: datetime,
        *,
        actor: str,
        action: str,
        reason: str,
        from_state: DispatchState | None = None,
        detail: dict[str, Any] | None = None,
        states: bool = True,
    ) -> None:
        """A timeline entry of this dispatch (``states`` False: no from/to, no rules version)."""
        self.journal.append(
            Entry(case_id=self.case_id, dispatch_id=self.dispatch_id, at=at, actor=actor,
                  action=action, reason=reason, detail=detail,
                  from_state=(from_state or self.state).value if states else None,
                  to_state=self.state.value if states else None,
                  rule_version=self.ruleset_version if states else None)
        )  # fmt: skip

    def emit(self, payload: BaseModel) -> None:
        self.journal.append(Emitted(payload, self.case_id))

    def _set(self, **values: Any) -> None:
        self.changes.values.update(values)
        for name, value in values.items():
            if hasattr(self, name):
                setattr(self, name, value)

    def acknowledge(self, at: datetime, *, actor: str, reason: str) -> None:
        """签收; emits ``dispatch.acknowledged``."""
        self._move(DispatchTrigger.ACKNOWLEDGE, at, actor=actor, action="acknowledged",
                   reason=reason)  # fmt: skip
        self._set(acknowledged_at=at)
        self.emit(DispatchAcknowledged(case_id=self.case_id, dispatch_id=self.dispatch_id,
                                       owner_id=self.owner_id, acknowledged_at=at, actor=actor))  # fmt: skip

    def report_progress(
        self, at: datetime, *, actor: str, note: str, detail: dict[str, Any]
    ) -> None:
        """进展: in progress (acknowledged by it, if it was not yet)."""
        self._move(DispatchTrigger.START_PROGRESS, at, actor=actor, action="progress",
                   reason=note, detail=detail)  # fmt: skip
        self._set(acknowledged_at=self.acknowledged_at or at)

    def resolve(
        self, outcome: str, at: datetime, *, actor: str, reason: str, detail: dict[str, Any]
    ) -> None:
        """办结 with ``outcome``, kept on the dispatch (the case's close kind reads it)."""
        self._move(DispatchTrigger.RESOLVE, at, actor=actor, action="resolved", reason=reason,
                   detail=detail)  # fmt: skip
        self._set(resolved_at=at, acknowledged_at=self.acknowledged_at or at, outcome=outcome)

    def return_(self, reason_code: ReturnReason, at: datetime, *, actor: str, reason: str) -> None:
        """退单 with a reason code; refused to a lead a superior designated."""
        designated = self.role is DispatchRole.LEAD and self.designated_by is not None
        self._move(DispatchTrigger.RETURN, at, actor=actor, action="returned", reason=reason,
                   detail={"reason_code": reason_code.value}, reason_code=reason_code.value,
                   designated_lead=designated)  # fmt: skip

    def request_extension(self, at: datetime, *, actor: str, reason: str, days: int) -> None:
        self._move(DispatchTrigger.REQUEST_EXTENSION, at, actor=actor,
                   action="extension_requested", reason=reason,
                   detail={"working_days": days})  # fmt: skip

    def request_reconsideration(
        self, request: dict[str, Any], at: datetime, *, actor: str, reason: str
    ) -> None:
        """申请复核, kept on the dispatch's policy (only a designated lead may ask)."""
        office = self.designated_by
        self._move(DispatchTrigger.REQUEST_RECONSIDERATION, at, actor=actor,
                   action="reconsideration_requested", reason=reason,
                   detail={"designated_by": office}, designated_lead=office is not None)  # fmt: skip
        self._set(policy=self.policy | {"reconsideration": request})

    def cancel(self, at: datetime, *, reason: str, owner_name: str) -> None:
        """撤销 (its clocks stop); emits ``dispatch.cancelled``."""
        self._move(DispatchTrigger.CANCEL, at, actor="router", action="cancelled",
                   reason=f"{owner_name}：{reason}")  # fmt: skip
        self.emit(DispatchCancelled(case_id=self.case_id, dispatch_id=self.dispatch_id,
                                    owner_id=self.owner_id, reason=reason))  # fmt: skip

    def extend(self, resolve_due_at: datetime) -> None:
        """A supervisor approved an extension: the resolve deadline moves (no transition)."""
        self._set(resolve_due_at=resolve_due_at)
        self.version += 1
        self.changes.touched = True
