"""Payload contracts of the domain events, one pydantic model per ``(type, version)``.

A change to a payload is a new version: add a model with ``version=2`` and keep the old
one until every producer has moved. No raw personal data ever appears here: petitioners
are named by ``petitioner_ref``, a keyed hash made by intake.
"""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LocationData(Payload):
    district: str | None = None
    street: str | None = None
    community: str | None = None
    grid: str | None = None
    compound: str | None = None


class CaseReceived(Payload):
    case_id: UUID
    channel: str
    external_id: str | None = None
    category: str
    title: str
    description: str
    location: LocationData
    urgency: Literal["emergency", "urgent", "normal"] = "normal"
    petitioner_ref: str | None = None
    received_by: str | None = None


class DispatchInfo(Payload):
    dispatch_id: UUID
    owner_id: str
    owner_name: str
    role: Literal["lead", "co_handler"]
    acknowledge_due_at: AwareDatetime
    resolve_due_at: AwareDatetime
    progress_due_at: AwareDatetime | None = None


class CaseDispatched(Payload):
    case_id: UUID
    category: str
    title: str
    tier: str
    urgency: str
    rule_id: str | None
    ruleset_version: str
    location: LocationData
    dispatches: list[DispatchInfo]


class CaseDisputed(Payload):
    case_id: UUID
    category: str
    reason: str
    location: LocationData
    owners_involved: list[str] = Field(default_factory=list)


class DispatchDelivered(Payload):
    case_id: UUID
    dispatch_id: UUID
    owner_id: str
    delivery_id: UUID
    delivered_at: AwareDatetime
    attempts: int


class DeliveryFailed(Payload):
    case_id: UUID | None
    dispatch_id: UUID | None
    owner_id: str
    delivery_id: UUID
    attempts: int
    last_error: str


class DispatchAcknowledged(Payload):
    case_id: UUID
    dispatch_id: UUID
    owner_id: str
    acknowledged_at: AwareDatetime
    actor: str


class DispatchReturned(Payload):
    case_id: UUID
    dispatch_id: UUID
    owner_id: str
    role: Literal["lead", "co_handler"]
    reason_code: str
    note: str
    returns_on_case: int
    next_step: Literal["rerouted", "disputed", "none"]
    next_owner_id: str | None = None


class DispatchProgressed(Payload):
    case_id: UUID
    dispatch_id: UUID
    owner_id: str
    minutes_spent: int
    at: AwareDatetime


class ExtensionRequested(Payload):
    case_id: UUID
    dispatch_id: UUID
    owner_id: str
    working_days: int
    reason: str
    resolve_due_at: AwareDatetime


class DispatchResolved(Payload):
    case_id: UUID
    dispatch_id: UUID
    owner_id: str
    role: Literal["lead", "co_handler"]
    outcome: Literal["resolved", "explained", "referred"]
    summary: str


class CaseResolved(Payload):
    case_id: UUID
    outcome: Literal["resolved", "explained", "referred"]
    summary: str
    lead_owner_id: str


_REGISTRY: dict[tuple[str, int], type[Payload]] = {
    ("case.received", 1): CaseReceived,
    ("case.dispatched", 1): CaseDispatched,
    ("case.disputed", 1): CaseDisputed,
    ("dispatch.delivered", 1): DispatchDelivered,
    ("dispatch.acknowledged", 1): DispatchAcknowledged,
    ("delivery.failed", 1): DeliveryFailed,
    ("dispatch.returned", 1): DispatchReturned,
    ("dispatch.progressed", 1): DispatchProgressed,
    ("dispatch.extension_requested", 1): ExtensionRequested,
    ("dispatch.resolved", 1): DispatchResolved,
    ("case.resolved", 1): CaseResolved,
}
_BY_MODEL: dict[type[Payload], tuple[str, int]] = {m: k for k, m in _REGISTRY.items()}


def register(event_type: str, version: int, model: type[Payload]) -> None:
    """Add a contract (used by later modules that define their own events)."""
    _REGISTRY[(event_type, version)] = model
    _BY_MODEL[model] = (event_type, version)


def event_type_of(model: type[Any]) -> tuple[str, int]:
    return _BY_MODEL[model]


def payload_model(event_type: str, version: int) -> type[Payload] | None:
    return _REGISTRY.get((event_type, version))


def all_event_types() -> list[str]:
    return sorted({t for t, _ in _REGISTRY})
