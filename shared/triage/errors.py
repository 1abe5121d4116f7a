"""Errors of the triage package: a reason a person can act on, Chinese first."""

from __future__ import annotations


class TriageDataError(ValueError):
    """Unusable training or evaluation data, or an unusable model file."""
