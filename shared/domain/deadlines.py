"""When a clock runs out: a rule's duration applied from a start time.

Minutes, hours and calendar days are wall-clock time (the simple tier's "24 h" is 24
hours whatever the day); working days are counted by the working-day calendar.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from shared.domain.rules import DeadlineSpec


class WorkingDays(Protocol):
    def add_working_days(self, start: datetime, days: int | float) -> datetime: ...


def due_at(calendar: WorkingDays, start: datetime, spec: DeadlineSpec) -> datetime:
    if spec.unit == "working_days":
        return calendar.add_working_days(start, spec.amount)
    return start + timedelta(**{spec.unit: spec.amount})
