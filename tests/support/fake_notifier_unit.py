"""An in-memory unit of work for the notifier's handlers: no database, milliseconds a test.

It is the real :class:`services.notifier.unit_of_work.NotifierUnit` (same ``now``,
``deps``, ``cause``) whose repositories keep case facts, endpoints and deliveries in
memory. ``conn`` is None: a handler that still runs a statement itself fails loudly.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from types import SimpleNamespace
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from services.notifier.deps import NotifierDeps
from services.notifier.unit_of_work import NotifierUnit
from shared.contracts.envelope import make_envelope
from shared.messaging.consumer import RetryLater


class MemoryFacts:
    def __init__(self, stored: Iterable[dict[str, Any]] = ()) -> None:
        self.rows = {f["case_id"]: dict(f) for f in stored}

    def add(self, values: dict[str, Any]) -> None:
        self.rows.setdefault(values["case_id"], dict(values))

    async def get(self, case_id: UUID, **learnt: Any) -> Any:
        if case_id not in self.rows:
            raise RetryLater(f"case {case_id} not yet known to the notifier")
        self.rows[case_id].update(learnt)
        return SimpleNamespace(**self.rows[case_id])


class MemoryEndpoints:
    def __init__(self, active: Iterable[str] = ()) -> None:
        self.active = set(active)

    async def registered(self, owner_ids: list[str]) -> set[str]:
        return self.active.intersection(owner_ids)

    async def ensure_petitioner(self) -> None:
        self.active.add("petitioner")


class MemoryDeliveries:
    def __init__(self) -> None:
        self.made: list[dict[str, Any]] = []

    async def add(self, owner_id: str, body: dict[str, Any], **kw: Any) -> None:
        self.made.append({"owner_id": owner_id, "body": body, "status": "pending", **kw})

    def to(self, owner_id: str) -> dict[str, Any]:
        [found] = [d for d in self.made if d["owner_id"] == owner_id]
        return found


class FakeNotifierUnit(NotifierUnit):
    def __init__(
        self,
        deps: NotifierDeps,
        now: datetime,
        cause: BaseModel,
        *,
        facts: Iterable[dict[str, Any]] = (),
        endpoints: Iterable[str] = (),
    ) -> None:
        self.conn = None  # type: ignore[assignment]
        self.now = now
        self.deps = deps
        self.cause = make_envelope(cause, producer="test", occurred_at=now,
                                   case_id=getattr(cause, "case_id", None))  # fmt: skip
        self.memory_facts = MemoryFacts(facts)
        self.memory_endpoints = MemoryEndpoints(endpoints)
        self.memory_deliveries = MemoryDeliveries()
        self.facts = self.memory_facts  # type: ignore[assignment]
        self.endpoints = self.memory_endpoints  # type: ignore[assignment]
        self.deliveries = self.memory_deliveries  # type: ignore[assignment]
