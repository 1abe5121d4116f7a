"""An in-memory unit of work for escalation's handlers: no database, milliseconds a test.

It is the real :class:`services.escalation.unit_of_work.EscalationUnit` (same ``now``,
``deps``, ``cause``) whose repositories keep clocks, whistles and extension requests in
lists, and whose events are kept as payloads.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from types import SimpleNamespace
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from services.escalation.deps import EscalationDeps
from services.escalation.unit_of_work import EscalationUnit
from shared.contracts.envelope import make_envelope


class MemoryDeadlines:
    """Deadline rows as dicts; the unique keys are the table's (dispatch, kind)."""

    def __init__(self, now: datetime, stored: Iterable[dict[str, Any]] = ()) -> None:
        self.now = now
        self.rows: list[dict[str, Any]] = [{"version": 1, **r} for r in stored]

    def arm(self, values: dict[str, Any]) -> None:
        key = (values.get("dispatch_id"), values["kind"])
        if values.get("dispatch_id") is None or key not in {
            (r.get("dispatch_id"), r["kind"]) for r in self.rows
        }:
            self.rows.append({"version": 1, **values})

    async def arm_now(self, rows: list[dict[str, Any]]) -> None:
        for values in rows:
            self.arm(values)

    async def disarm_dispatch(self, dispatch_id: UUID, kinds: Iterable[str] | None = None) -> None:
        wanted = None if kinds is None else set(kinds)
        self._disarm(lambda r: r.get("dispatch_id") == dispatch_id
                     and (wanted is None or r["kind"] in wanted))  # fmt: skip

    async def disarm_case(self, case_id: UUID, kind: str) -> None:
        self._disarm(lambda r: r["case_id"] == case_id and r["kind"] == kind)

    def _disarm(self, match: Any) -> None:
        for r in self.rows:
            if match(r) and r["state"] in ("armed", "fired"):
                r.update(state="disarmed", updated_at=self.now, version=r["version"] + 1)

    async def armed_of_case(self, case_id: UUID, kind: str) -> UUID | None:
        return next((r["deadline_id"] for r in self.rows if r["case_id"] == case_id
                     and r["kind"] == kind and r["state"] == "armed"), None)  # fmt: skip

    async def progress_clock(self, dispatch_id: UUID) -> Any:
        found = self.of(dispatch_id, "progress")
        return None if found is None else SimpleNamespace(**found)

    async def rearm(self, deadline_id: UUID, values: dict[str, Any]) -> None:
        row = next(r for r in self.rows if r["deadline_id"] == deadline_id)
        row.update(state="armed", **values, updated_at=self.now, version=row["version"] + 1)

    def of(self, dispatch_id: UUID, kind: str) -> dict[str, Any] | None:
        return next((r for r in self.rows
                     if r.get("dispatch_id") == dispatch_id and r["kind"] == kind), None)  # fmt: skip


class MemoryWhistles:
    def __init__(self) -> None:
        self.added: list[tuple[dict[str, Any], list[str]]] = []

    async def add(self, values: dict[str, Any], convened: list[str]) -> None:
        self.added.append((values, convened))


class MemoryExtensions:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    async def pending(self, dispatch_id: UUID) -> UUID | None:
        return next((r["extension_id"] for r in self.rows if r["dispatch_id"] == dispatch_id), None)

    async def add(self, values: dict[str, Any]) -> None:
        self.rows.append(values)


class FakeEscalationUnit(EscalationUnit):
    """A handler's unit over clocks held in memory; ``events`` are the payloads it emitted."""

    def __init__(
        self,
        deps: EscalationDeps,
        now: datetime,
        cause: BaseModel,
        *,
        clocks: Iterable[dict[str, Any]] = (),
        occurred_at: datetime | None = None,
    ) -> None:
        self.now = now
        self.deps = deps
        self.cause = make_envelope(cause, producer="test", occurred_at=occurred_at or now,
                                   case_id=getattr(cause, "case_id", None))  # fmt: skip
        self.events: list[BaseModel] = []
        self.memory_deadlines = MemoryDeadlines(now, clocks)
        self.memory_whistles = MemoryWhistles()
        self.memory_extensions = MemoryExtensions()
        self.deadlines = self.memory_deadlines  # type: ignore[assignment]
        self.whistles = self.memory_whistles  # type: ignore[assignment]
        self.extensions = self.memory_extensions  # type: ignore[assignment]

    def emit(self, payload: BaseModel, case_id: UUID | None = None) -> None:
        self.events.append(payload)
