"""What an aggregate records as it changes: timeline entries and events, in order, as data.

An aggregate (:class:`shared.domain.case.Case`, :class:`shared.domain.dispatch.Dispatch`)
appends to its ``journal``; it writes nothing. The unit of work that loaded it shares one
journal among every aggregate of its transaction, so the timeline keeps the order things
happened in, and hands it to the database at commit (timeline rows, outbox events).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel


@dataclass(frozen=True, slots=True)
class Entry:
    """One timeline row: who did what to the case (and which dispatch), from and to."""

    case_id: UUID
    at: datetime
    actor: str
    action: str
    from_state: str | None = None
    to_state: str | None = None
    reason: str | None = None
    rule_version: str | None = None
    dispatch_id: UUID | None = None
    detail: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Emitted:
    """An event to stage in the outbox, about ``case_id``."""

    payload: BaseModel
    case_id: UUID


Recorded = Entry | Emitted


@dataclass(eq=False)
class Changes:
    """What changed on one aggregate since it was loaded or last written.

    ``moves``: transitions fired (the stored ``version`` grows by as many); ``values``:
    columns to write besides the state; ``touched``: something to write even without a
    transition (e.g. a deadline moved), which still counts as one version.
    """

    moves: int = 0
    values: dict[str, Any] = field(default_factory=dict)
    touched: bool = False

    @property
    def pending(self) -> bool:
        return self.moves > 0 or self.touched or bool(self.values)

    def clear(self) -> None:
        self.moves, self.touched = 0, False
        self.values = {}
