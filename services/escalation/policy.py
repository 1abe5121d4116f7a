"""The escalation policy: reminder share, quiet hours, the delay of each ladder level, the
whistle's report-in deadline and who is convened by default.

Read from ``SHAOBAO_ESCALATION_*`` (e.g. ``SHAOBAO_ESCALATION_REMINDER_SHARE=0.8``,
``SHAOBAO_ESCALATION_QUIET_START=22:00``, ``SHAOBAO_ESCALATION_UNREACHABLE='["d01-xfb"]'``).
The part that governs a clock is frozen onto its deadline row when the row is armed
(:meth:`EscalationPolicy.frozen`), so a later change never moves an open deadline.
"""

from __future__ import annotations

from datetime import time
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.domain.calendar import QuietHours
from shared.domain.durations import Duration

DEFAULT_DELAYS = {
    "community": "1wd",
    "street_office": "1wd",
    "district_petition_bureau": "2wd",
    "city_petition_bureau": "3wd",
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
    unreachable: list[str] = Field(default_factory=list)
    default_convened: dict[str, list[str]] = Field(default_factory=dict)
    scan_batch: int = Field(default=200, ge=1, le=5000)
    scan_poll_seconds: float = Field(default=0.2, gt=0, le=10)
    # With nothing due, the scanner's wait doubles after each empty pass up to this
    # (shared/polling.py); a moved test clock wakes it.
    scan_idle_poll_seconds: float = Field(default=1.0, gt=0, le=60)

    @property
    def quiet_hours(self) -> QuietHours:
        return QuietHours(start=self.quiet_start, end=self.quiet_end)

    def frozen(self) -> dict[str, Any]:
        """What a clock keeps for its lifetime (stored as JSON on the deadline row)."""
        return {
            "reminder_share": self.reminder_share,
            "quiet": [self.quiet_start.isoformat("minutes"), self.quiet_end.isoformat("minutes")],
            "level_delays": dict(self.level_delays),
        }


def quiet_of(policy: dict[str, Any]) -> QuietHours:
    start, end = policy.get("quiet") or ["21:00", "08:00"]
    return QuietHours(start=time.fromisoformat(start), end=time.fromisoformat(end))


def delay_of(policy: dict[str, Any], level_kind: str) -> Duration:
    delays = policy.get("level_delays") or DEFAULT_DELAYS
    return Duration.parse(delays.get(level_kind) or DEFAULT_DELAYS.get(level_kind, "1wd"))
