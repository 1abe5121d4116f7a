"""What escalation's handlers, scanner and API need besides a connection."""

from __future__ import annotations

from dataclasses import dataclass

from services.escalation.policy import EscalationPolicy
from shared.calendar_watch import load_calendar
from shared.domain.calendar import WorkingCalendar
from shared.domain.owners import OwnerDirectory
from shared.settings import Settings


@dataclass(frozen=True)
class EscalationDeps:
    owners: OwnerDirectory
    calendar: WorkingCalendar
    policy: EscalationPolicy

    @classmethod
    def load(cls, settings: Settings, policy: EscalationPolicy | None = None) -> EscalationDeps:
        return cls(
            owners=OwnerDirectory.load(settings.owners_file),
            calendar=load_calendar(settings.calendar_dir),
            policy=policy or EscalationPolicy(),
        )
