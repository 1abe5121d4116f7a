"""What intake's use cases are given (built once by ``app.py``, the composition root)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.intake.triage import TriageDesk
from shared.domain.intake_rules import IntakePolicy
from shared.security.pii import PiiVault


@dataclass(frozen=True)
class IntakeDeps:
    vault: PiiVault
    pseudonym_key: str
    policy: IntakePolicy = field(default_factory=IntakePolicy)
    owners: Any = None  # OwnerDirectory: who an alert notifies and convenes
    # Category code → Chinese name (rules.yaml, read at start) for what people read.
    category_names: dict[str, str] = field(default_factory=dict)
    triage: TriageDesk | None = None  # free-text submissions (services.intake.triage)
