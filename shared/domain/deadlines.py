"""When a clock runs out: a rule's duration applied from a start time.

Kept as the name the tests and older callers use; the arithmetic lives in
:meth:`shared.domain.calendar.WorkingCalendar.add` (working days by the calendar, minutes,
hours and calendar days as wall-clock time).
"""

from __future__ import annotations

from datetime import datetime

from shared.domain.calendar import WorkingCalendar
from shared.domain.rules import DeadlineSpec


def due_at(calendar: WorkingCalendar, start: datetime, spec: DeadlineSpec) -> datetime:
    return calendar.add(start, spec)
