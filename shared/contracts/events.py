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


class AttachmentInfo(Payload):
    """An attachment as events carry it: what it is and who attached it, never its bytes
    (they stay in the attachment store, fetched by id by those who may read the case)."""

    attachment_id: str = Field(pattern=r"^[0-9a-f]{64}$")  # sha256 of the bytes
    filename: str
    content_type: str
    size: int
    attached_by: str
    attached_at: AwareDatetime


class Suggested(Payload):
    category: str
    probability: float


class PlaceFound(Payload):
    """Where intake's gazetteer put a free-text case, and why (Chinese, for the timeline)."""

    path: str | None = None
    explanation: str = ""
    confident: bool = False
    candidates: list[str] = []  # other place paths it could be, best first


class TriageInfo(Payload):
    """How intake decided the matter and the place of a free-text submission.

    ``auto`` is true when the case may route by itself: the category was given or the
    model's top probability reached the threshold, and the place is known. Otherwise the
    router holds it in the dispatchers' queue (待派单) with ``reason``."""

    auto: bool
    reason: str = ""  # why a person must decide (Chinese), empty when auto
    model_version: str | None = None
    suggestions: list[Suggested] = []  # the model's top three, most likely first
    threshold: float | None = None
    category_given: bool = False
    place_given: bool = False
    place: PlaceFound | None = None


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
    key_person: bool = False  # 重点人员: the petitioner is in intake's registry
    rebound_of: UUID | None = None  # 回弹: comes back to an explained closure (added, default)
    case_number: str | None = None  # 诉求编号 SB20261207-000123 (added, default)
    address: str | None = None  # the address as the resident said it (added, default)
    attachments: list[AttachmentInfo] = []  # photos, recordings, documents (added, default)
    triage: TriageInfo | None = None  # free-text submissions only (added, default)


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
    """Jurisdiction failed, or a supervisor blew the whistle by hand (``blown_by``).

    ``urgency`` and ``blown_by`` were added with defaults (old producers stay valid)."""

    case_id: UUID
    category: str
    reason: str
    location: LocationData
    owners_involved: list[str] = Field(default_factory=list)
    urgency: Literal["emergency", "urgent", "normal"] = "normal"
    blown_by: str | None = None


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
    note: str = ""  # the progress note (进展说明) as the department wrote it (added, default)
    attachments: list[AttachmentInfo] = []  # evidence attached (added, default)


class ExtensionRequested(Payload):
    case_id: UUID
    dispatch_id: UUID
    owner_id: str
    working_days: int
    reason: str
    resolve_due_at: AwareDatetime
    # The office that decides (the owner's escalation parent), told of the request.
    approver_id: str | None = None


class DispatchResolved(Payload):
    case_id: UUID
    dispatch_id: UUID
    owner_id: str
    role: Literal["lead", "co_handler"]
    outcome: Literal["resolved", "explained", "referred"]
    summary: str
    attachments: list[AttachmentInfo] = []  # evidence attached (added, default)


class CaseResolved(Payload):
    case_id: UUID
    outcome: Literal["resolved", "explained", "referred"]
    summary: str
    lead_owner_id: str
    key_person: bool = False  # 重点人员: the 回访 is a person's, not a rating link


class CaseReminder(Payload):
    case_id: UUID
    dispatch_id: UUID | None = None  # None: the triage queue's clock (no dispatch yet)
    owner_id: str
    clock: str
    due_at: AwareDatetime
    reason: str


class CaseEscalated(Payload):
    escalation_id: UUID
    case_id: UUID
    dispatch_id: UUID | None = None
    whistle_id: UUID | None = None
    clock: str
    level: str
    from_owner_id: str
    to_owner_id: str
    reason: str
    next_due_at: AwareDatetime | None = None


class WhistleBlown(Payload):
    whistle_id: UUID
    case_id: UUID
    category: str
    blown_by: str
    reason: str
    convened: list[str]
    report_in_due_at: AwareDatetime
    location: LocationData


class WhistleUnconvened(Payload):
    """A whistle that could convene no one (no unit involved, no default for the category):
    not blown; the case is for a dispatcher to assign by hand. The triage queue (another
    issue) is to consume this; until then the router writes it on the timeline."""

    case_id: UUID
    category: str
    reason: str
    location: LocationData
    blown_by: str | None = None


class CaseHeldForTriage(Payload):
    """The case waits in the dispatchers' queue (待派单): its clock runs on ``desk_owner_id``
    until a person decides the matter and the place (``case.classified``)."""

    case_id: UUID
    desk_owner_id: str
    due_at: AwareDatetime
    reason: str
    urgency: Literal["emergency", "urgent", "normal"] = "normal"
    location: LocationData


class CaseClassified(Payload):
    """A person decided the matter and the place: a pick from the triage queue, or a
    reclassification of an open case (改派). The case routes again from here."""

    case_id: UUID
    kind: Literal["triage", "reclassify"]
    category: str
    location: LocationData
    previous_category: str
    previous_location: LocationData
    decided_by: str
    reason: str
    model_version: str | None = None


class WhistleLeadDesignated(Payload):
    whistle_id: UUID
    case_id: UUID
    lead_owner_id: str
    co_handler_ids: list[str] = Field(default_factory=list)
    designated_by: str
    # The office that decided (the supervisor's own office, else the blowing office): the
    # lead it names cannot return the case, only ask that office to reconsider.
    designated_by_owner: str | None = None


class CaseDuplicateLinked(Payload):
    """Another number for an open case (重复件): attached, not dispatched again."""

    case_id: UUID
    channel: str
    ref: str | None = None
    petitioner_ref: str | None = None
    reason: Literal["related_ref", "same_petitioner"]
    attachments: list[AttachmentInfo] = []  # what the repeat report brought (added, default)


class AlertOwner(Payload):
    owner_id: str
    name: str
    kind: str


class AlertRaised(Payload):
    """An early warning (预警): once per (rule, place, window). ``convene`` is the linked
    handling: the owners to dispatch together (e.g. property firm and maintenance unit)."""

    alert_id: UUID
    rule_id: str
    kind: Literal["cluster", "collective"]
    priority: Literal["normal", "high"]
    category: str
    level: str
    place: str
    window_start: AwareDatetime
    window_end: AwareDatetime
    case_count: int
    case_ids: list[UUID]
    notify: list[str]
    convene: list[AlertOwner] = Field(default_factory=list)


class FeedbackReceived(Payload):
    case_id: UUID
    channel: str
    rating: Literal["satisfied", "basically_satisfied", "unsatisfied"]
    comment: str = ""
    received_at: AwareDatetime


class CaseClosed(Payload):
    case_id: UUID
    kind: str
    rating: str | None = None
    lead_owner_id: str | None = None


class CaseReopened(Payload):
    case_id: UUID
    rating: str
    lead_owner_id: str
    co_handler_ids: list[str] = Field(default_factory=list)
    previous_lead_owner_id: str | None = None


class EndpointCircuitOpened(Payload):
    owner_id: str
    consecutive_failures: int
    open_until: AwareDatetime
    last_error: str


class ExtensionDecided(Payload):
    case_id: UUID
    dispatch_id: UUID
    owner_id: str
    approved: bool
    working_days: int
    resolve_due_at: AwareDatetime
    decided_by: str
    reason: str


class DispatchCancelled(Payload):
    """A supervisor's decision replaced this dispatch; its clocks stop."""

    case_id: UUID
    dispatch_id: UUID
    owner_id: str
    reason: str


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
    ("case.reminder", 1): CaseReminder,
    ("case.escalated", 1): CaseEscalated,
    ("whistle.blown", 1): WhistleBlown,
    ("whistle.lead_designated", 1): WhistleLeadDesignated,
    ("whistle.unconvened", 1): WhistleUnconvened,
    ("case.held_for_triage", 1): CaseHeldForTriage,
    ("case.classified", 1): CaseClassified,
    ("case.duplicate_linked", 1): CaseDuplicateLinked,
    ("alert.raised", 1): AlertRaised,
    ("feedback.received", 1): FeedbackReceived,
    ("case.closed", 1): CaseClosed,
    ("case.reopened", 1): CaseReopened,
    ("endpoint.circuit_opened", 1): EndpointCircuitOpened,
    ("dispatch.extension_decided", 1): ExtensionDecided,
    ("dispatch.cancelled", 1): DispatchCancelled,
}
_BY_MODEL: dict[type[Payload], tuple[str, int]] = {m: k for k, m in _REGISTRY.items()}


def event_type_of(model: type[Any]) -> tuple[str, int]:
    return _BY_MODEL[model]


def payload_model(event_type: str, version: int) -> type[Payload] | None:
    return _REGISTRY.get((event_type, version))
