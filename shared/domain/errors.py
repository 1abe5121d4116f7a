"""Domain errors: every refusal carries a reason a person can read (Chinese first)."""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the domain refused something."""


class InvalidTransition(DomainError):
    def __init__(self, state: str, trigger: str, reason: str) -> None:
        super().__init__(f"{trigger} refused in state {state}: {reason}")
        self.state = state
        self.trigger = trigger
        self.reason = reason


class ConfigError(DomainError):
    """A rules, owners or calendar file is wrong; the message names file, entry and field."""
