"""Office hours (办公时间): the hours of a working day in which people answer.

Data, not code: a setting such as ``09:00-12:00,13:30-18:00`` (the default: a morning and
an afternoon with the lunch break between, as most Chinese government offices keep) or
``09:00-18:00``. Which days are working days is the calendar's
(:class:`~shared.domain.calendar.WorkingCalendar`, with its holidays and 调休 days); office
hours say which hours of those days count. Used where a deadline asks a unit to turn up
(a whistle's report-in): "4 hours" set at 18:37 falls due at 12:00 the next working day
(09:00-12:00 is 3 h, then 13:30-14:30), never at 22:37.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from shared.domain.calendar import SHANGHAI, WorkingCalendar

MAX_DAYS = 400


@dataclass(frozen=True)
class OfficeHours:
    """Ordered, non-overlapping local-time windows of a working day."""

    windows: tuple[tuple[time, time], ...]

    @classmethod
    def parse(cls, text: str) -> OfficeHours:
        """``"09:00-12:00,13:30-18:00"``; ValueError with a reason when malformed."""
        windows: list[tuple[time, time]] = []
        for part in (p.strip() for p in text.split(",")):
            try:
                start_text, end_text = part.split("-")
                start, end = time.fromisoformat(start_text), time.fromisoformat(end_text)
            except ValueError:
                raise ValueError(
                    f"办公时间「{part}」应写作 09:00-12:00 (office hours like 09:00-12:00)"
                ) from None
            if start >= end or (windows and start < windows[-1][1]):
                raise ValueError(f"办公时间「{text}」须按时间先后且不重叠 (ordered, no overlap)")
            windows.append((start, end))
        return cls(tuple(windows))

    def add(self, calendar: WorkingCalendar, start: datetime, span: timedelta) -> datetime:
        """The instant by which ``span`` of office time has passed since ``start`` (UTC)."""
        left = span
        local = start.astimezone(SHANGHAI).replace(tzinfo=None)
        day = local.date()
        for _ in range(MAX_DAYS):
            if calendar.is_working_day(day):
                for begin, end in self.windows:
                    lo = max(local, datetime.combine(day, begin))
                    hi = datetime.combine(day, end)
                    if lo >= hi:
                        continue
                    if hi - lo >= left:
                        return (lo + left).replace(tzinfo=SHANGHAI).astimezone(UTC)
                    left -= hi - lo
            day += timedelta(days=1)
        raise ValueError("办公时间内无法算出时限 (no office time within a year)")
