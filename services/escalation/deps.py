"""What escalation's handlers, scanner and API need besides a connection.

The owners and the calendar are reloaded while running, as in the router
(:mod:`shared.config_watch`): a valid edit is taken whole, a bad one is refused and the
last good set stays. The policy is code, not a file, and does not change.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from services.escalation.policy import EscalationPolicy
from shared.calendar_watch import load_calendar
from shared.config_watch import ConfigWatch, fingerprint
from shared.domain.calendar import WorkingCalendar
from shared.domain.owners import OwnerDirectory
from shared.settings import Settings


@dataclass(frozen=True)
class EscalationConfig:
    owners: OwnerDirectory
    calendar: WorkingCalendar

    @classmethod
    def load(cls, settings: Settings) -> EscalationConfig:
        """Raise ConfigError (file, line, reason) when a file is wrong."""
        return cls(
            owners=OwnerDirectory.load(settings.owners_file),
            calendar=load_calendar(settings.calendar_dir),
        )

    def describe(self) -> dict[str, str]:
        return {"owners_version": self.owners.version}


def config_paths(settings: Settings) -> list[Path]:
    return [settings.owners_file, settings.calendar_dir]


class EscalationDeps:
    def __init__(
        self, config: EscalationConfig, policy: EscalationPolicy, *, seen: str | None = None
    ) -> None:
        self.config = config
        self.policy = policy
        self._seen = seen

    @classmethod
    def load(cls, settings: Settings, policy: EscalationPolicy | None = None) -> EscalationDeps:
        seen = fingerprint(config_paths(settings))
        return cls(EscalationConfig.load(settings), policy or EscalationPolicy(), seen=seen)

    @property
    def owners(self) -> OwnerDirectory:
        return self.config.owners

    @property
    def calendar(self) -> WorkingCalendar:
        return self.config.calendar

    def replace(self, config: EscalationConfig) -> None:
        self.config = config

    def watch(self, settings: Settings, interval: float = 2.0) -> ConfigWatch[EscalationConfig]:
        """The background job that reloads this object's configuration from disk."""
        return ConfigWatch(
            "escalation",
            paths=config_paths(settings),
            load=lambda: EscalationConfig.load(settings),
            apply=self.replace,
            describe=EscalationConfig.describe,
            interval=interval,
            seen=self._seen,
        )
