"""What the router's handlers and routes need besides a connection: rules, owners, calendar."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.calendar_watch import load_calendar
from shared.domain.calendar import WorkingCalendar
from shared.domain.owners import OwnerDirectory
from shared.domain.routing import DeadlineSpec, RuleSet
from shared.settings import Settings


@dataclass(frozen=True)
class RouterDeps:
    rules: RuleSet
    owners: OwnerDirectory
    calendar: WorkingCalendar

    @classmethod
    def load(cls, settings: Settings) -> RouterDeps:
        rules = RuleSet.load(settings.rules_file)
        owners = OwnerDirectory.load(settings.owners_file)
        rules.check_owners(owners)
        return cls(rules=rules, owners=owners, calendar=load_calendar(settings.calendar_dir))

    def due(self, start: datetime, within: DeadlineSpec) -> datetime:
        return self.calendar.add(start, within)
