"""An in-memory unit of work for intake's handlers: no database, milliseconds a test.

It is the real :class:`services.intake.unit_of_work.IntakeUnit` (same ``now``, ``deps``,
``cause``, same commit) whose case repository keeps
:class:`~shared.domain.intake_status.IntakeCase` aggregates in a dict and records each
``UPDATE`` a commit would run. The statements that change a case without reading it
(``dispatched``, ``classified``) apply the aggregate's own rules here; their SQL is
pinned against PostgreSQL by tests/integration/test_intake_status.py. ``conn`` is None:
a handler that still runs a statement itself fails loudly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from services.intake.unit_of_work import IntakeCases, IntakeUnit, not_stored
from shared.contracts.envelope import make_envelope
from shared.domain.intake_status import IntakeCase, classification


class MemoryCases(IntakeCases):
    """Cases held in memory; ``updates`` are the statements a commit would run, in order
    (case id, the columns it sets)."""

    def __init__(self, now: datetime, stored: Iterable[IntakeCase]) -> None:
        self.now = now
        self.stored = {c.case_id: c for c in stored}
        self.updates: list[tuple[UUID, dict[str, Any]]] = []
        self._seen: dict[UUID, IntakeCase] = {}

    async def get_for_update(self, case_id: UUID) -> IntakeCase:
        if case_id not in self.stored:
            raise not_stored(case_id)
        self._seen[case_id] = self.stored[case_id]
        return self.stored[case_id]

    async def dispatched(self, case_id: UUID, holders: Mapping[str, str], lead: str | None) -> None:
        case = await self.get_for_update(case_id)
        case.dispatched(holders, lead, self.now)
        await self.write()

    async def classified(self, case_id: UUID, category: str, location: dict[str, Any]) -> None:
        if case_id not in self.stored:
            raise not_stored(case_id)
        self.updates.append((case_id, classification(category, location)))

    async def write(self) -> None:
        for case in self._seen.values():
            if case.changes:
                self.updates.append((case.case_id, case.changes))
                case.changes = {}

    def written(self, case_id: UUID) -> dict[str, Any]:
        """Every column the unit wrote for the case, the last value of each."""
        out: dict[str, Any] = {}
        for cid, values in self.updates:
            if cid == case_id:
                out |= values
        return out


class FakeIntakeUnit(IntakeUnit):
    """A handler's unit over cases held in memory."""

    def __init__(
        self, deps: Any, now: datetime, cause: BaseModel, *, cases: Iterable[IntakeCase] = ()
    ) -> None:
        self.conn = None  # type: ignore[assignment]
        self.now = now
        self.deps = deps
        self.cause = make_envelope(cause, producer="test", occurred_at=now,
                                   case_id=getattr(cause, "case_id", None))  # fmt: skip
        self.memory_cases = MemoryCases(now, cases)
        self.cases = self.memory_cases
