"""Loading the working-day calendar in a service: a year the data does not cover counts
weekends only (the domain does that); here it is logged and counted so an operator sees
that ``config/calendar`` needs its new year."""

from __future__ import annotations

from pathlib import Path

import structlog
from prometheus_client import Counter

from shared.clock import Clock
from shared.domain.calendar import SHANGHAI, WorkingCalendar

UNCOVERED = Counter(
    "shaobao_calendar_uncovered_year_total",
    "Deadlines computed in a year the holiday calendar does not cover (weekends only)",
    ["year"],
)
log = structlog.get_logger(__name__)


def _uncovered(year: int) -> None:
    log.warning(
        "calendar_year_not_covered",
        year=year,
        hint=f"add config/calendar/{year}.yaml (国务院节假日安排)",
    )
    UNCOVERED.labels(str(year)).inc()


def coverage_warnings(calendar: WorkingCalendar, clock: Clock) -> list[str]:
    """The calendar's warnings for today in Shanghai, by the service's clock (test clock too)."""
    return calendar.coverage_warnings(clock.now().astimezone(SHANGHAI).date())


def load_calendar(directory: Path) -> WorkingCalendar:
    return WorkingCalendar.load(directory, on_uncovered=_uncovered)
