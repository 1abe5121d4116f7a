"""An in-memory unit of work for the router's handlers: no database, milliseconds a test.

It is the real :class:`services.router.unit_of_work.HandlerUnit` (same journal, same
commit) with repositories that keep cases and dispatches in dicts and record what a
commit would write, and a sink that keeps the rows and events it is handed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel
from sqlalchemy import Table

from services.router.deps import RouterDeps
from services.router.unit_of_work import CaseRepository, DispatchRepository, HandlerUnit, RouterUnit
from shared.contracts.envelope import Envelope, make_envelope
from shared.domain.case import Case
from shared.domain.dispatch import Dispatch


class FakeSink:
    conn: Any = None  # any statement a handler still runs itself fails loudly

    def __init__(self) -> None:
        self.rows: list[tuple[str, dict[str, Any]]] = []
        self.events: list[BaseModel] = []

    def defer(self, table: Table, values: dict[str, Any]) -> None:
        self.rows.append((table.name, values))

    def emit(self, payload: BaseModel, case_id: UUID) -> None:
        self.events.append(payload)

    def timeline(self) -> list[str]:
        return [v["action"] for t, v in self.rows if t == "timeline"]


class MemoryCases(CaseRepository):
    def __init__(self, unit: RouterUnit, stored: list[Case]) -> None:
        super().__init__(unit)
        self.stored = {c.case_id: c for c in stored}
        self.written: dict[UUID, dict[str, Any]] = {}

    async def get_for_update(self, case_id: UUID) -> Case | None:
        case = self.stored.get(case_id)
        if case is not None:
            case.journal = self._unit.journal  # type: ignore[assignment]
            self._seen[case_id] = case
        return case

    async def _stored(self, case_id: UUID) -> bool:
        return case_id in self.stored

    async def write(self) -> None:
        for case in self._seen.values():
            columns = self._new.pop(case.case_id, None)
            if columns is not None or case.changes.pending:
                self.written[case.case_id] = {
                    **(columns or {}), **case.changes.values,
                    "state": case.state.value, "version": case.version,
                    **({"inserted": True} if columns is not None else {}),
                }  # fmt: skip
                case.changes.clear()


class MemoryDispatches(DispatchRepository):
    def __init__(self, unit: RouterUnit, stored: list[Dispatch]) -> None:
        super().__init__(unit)
        self.stored = {d.dispatch_id: d for d in stored}
        self.written: dict[UUID, dict[str, Any]] = {}

    async def get_for_update(self, dispatch_id: UUID) -> Dispatch | None:
        found = self.stored.get(dispatch_id)
        return None if found is None else self._track(found)

    async def of_case(self, case_id: UUID, *, open_only: bool = False) -> list[Dispatch]:
        return [self._track(d) for d in self.stored.values() if d.case_id == case_id]

    def _track(self, d: Dispatch) -> Dispatch:
        d.journal = self._unit.journal  # type: ignore[assignment]
        self._seen[d.dispatch_id] = d
        return d

    async def write(self) -> None:
        for d in self._seen.values():
            if d.changes.pending:
                self.written[d.dispatch_id] = {
                    "state": d.state.value, "version": d.version, **d.changes.values
                }  # fmt: skip
                d.changes.clear()


class FakeUnit(HandlerUnit):
    """A handler's unit over ``cases`` and ``dispatches`` held in memory."""

    def __init__(
        self,
        deps: RouterDeps,
        now: datetime,
        cause: BaseModel,
        *,
        cases: list[Case] = (),  # type: ignore[assignment]
        dispatches: list[Dispatch] = (),  # type: ignore[assignment]
    ) -> None:
        self.fake = FakeSink()
        RouterUnit.__init__(self, self.fake, now=now, deps=deps)
        self.cause: Envelope = make_envelope(cause, producer="test", occurred_at=now,
                                             case_id=getattr(cause, "case_id", None))  # fmt: skip
        self.memory_cases = MemoryCases(self, list(cases))
        self.memory_dispatches = MemoryDispatches(self, list(dispatches))
        self.cases = self.memory_cases
        self.dispatches = self.memory_dispatches
