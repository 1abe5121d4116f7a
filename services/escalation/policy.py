"""The escalation policy: reminder share, quiet hours, the delay of each ladder level, the
whistle's report-in deadline and who is convened by default.

Urgency decides two things (issue 22): quiet hours hold reminders only of the urgencies
listed in ``quiet_holds`` (urgent and normal by default: an emergency is never held), and an
emergency climbs every level on wall-clock minutes (``emergency_level_delays``) instead of
working days. Report-in deadlines count office hours of working days (``office_hours``,
default ``09:00-12:00,13:30-18:00``), except for emergencies (wall clock). Past the city a
case joins the backlog (积案), its holder reminded every ``backlog_every``
(``backlog_every_emergency`` for an emergency) until someone acts.

Read from ``SHAOBAO_ESCALATION_*`` (e.g. ``SHAOBAO_ESCALATION_REMINDER_SHARE=0.8``,
``SHAOBAO_ESCALATION_QUIET_START=22:00``, ``SHAOBAO_ESCALATION_UNREACHABLE='["d01-xfb"]'``).
The part that governs a clock is frozen onto its deadline row when the row is armed
(:meth:`EscalationPolicy.frozen`), so a later change never moves an open deadline.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.domain.calendar import QuietHours, WorkingCalendar
from shared.domain.durations import Duration
from shared.domain.office_hours import OfficeHours

DEFAULT_DELAYS = {
    "community": "1wd",
    "street_office": "1wd",
    "district_petition_bureau": "2wd",
    "city_petition_bureau": "3wd",
}
EMERGENCY_DELAYS = {
    "community": "30m",
    "street_office": "30m",
    "district_petition_bureau": "60m",
    "city_petition_bureau": "60m",
}


class EscalationPolicy(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHAOBAO_ESCALATION_", extra="ignore", frozen=True)

    reminder_share: float = Field(default=0.75, gt=0, lt=1)
    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 0)
    level_delays: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_DELAYS))
    report_in_within: str = "30m"  # urgent and emergency matters
    report_in_within_normal: str = (
        "4h"  # everything else (SHAOBAO_ESCALATION_REPORT_IN_WITHIN_NORMAL)
    )
    quiet_holds: list[str] = Field(default_factory=lambda: ["urgent", "normal"])
    emergency_level_delays: dict[str, str] = Field(default_factory=lambda: dict(EMERGENCY_DELAYS))
    office_hours: str = "09:00-12:00,13:30-18:00"
    backlog_every: str = "1wd"
    backlog_every_emergency: str = "60m"
    unreachable: list[str] = Field(default_factory=list)
    default_convened: dict[str, list[str]] = Field(default_factory=dict)
    scan_batch: int = Field(default=1000, ge=1, le=5000)
    scan_poll_seconds: float = Field(default=0.2, gt=0, le=10)
    # With nothing due, the scanner's wait doubles after each empty pass up to this
    # (shared/polling.py); a moved test clock wakes it.
    scan_idle_poll_seconds: float = Field(default=1.0, gt=0, le=60)

    @property
    def quiet_hours(self) -> QuietHours:
        return QuietHours(start=self.quiet_start, end=self.quiet_end)

    @field_validator("office_hours")
    @classmethod
    def _office_hours_parse(cls, value: str) -> str:
        OfficeHours.parse(value)
        return value

    def frozen(self, urgency: str = "normal") -> dict[str, Any]:
        """What a clock keeps for its lifetime (stored as JSON on the deadline row)."""
        emergency = urgency == "emergency"
        delays = self.emergency_level_delays if emergency else self.level_delays
        return {
            "reminder_share": self.reminder_share,
            "quiet": [self.quiet_start.isoformat("minutes"), self.quiet_end.isoformat("minutes")],
            "quiet_holds": urgency in self.quiet_holds,
            "urgency": urgency,
            "level_delays": dict(delays),
            "backlog_every": self.backlog_every_emergency if emergency else self.backlog_every,
        }

    def report_in_due(self, calendar: WorkingCalendar, start: datetime, urgency: str) -> datetime:
        """When a convened unit must report in: office hours, or wall clock in an emergency."""
        urgent = urgency in ("urgent", "emergency")
        within = Duration.parse(self.report_in_within if urgent else self.report_in_within_normal)
        span = within.as_timedelta()
        if urgency == "emergency" or span is None:
            return calendar.add(start, within)
        return OfficeHours.parse(self.office_hours).add(calendar, start, span)


def quiet_holds(policy: dict[str, Any]) -> bool:
    """Whether quiet hours hold this clock's reminders (not an emergency's)."""
    return bool(policy.get("quiet_holds", True))


def quiet_of(policy: dict[str, Any]) -> QuietHours:
    start, end = policy.get("quiet") or ["21:00", "08:00"]
    return QuietHours(start=time.fromisoformat(start), end=time.fromisoformat(end))


def delay_of(policy: dict[str, Any], level_kind: str) -> Duration:
    delays = policy.get("level_delays") or DEFAULT_DELAYS
    return Duration.parse(delays.get(level_kind) or DEFAULT_DELAYS.get(level_kind, "1wd"))
