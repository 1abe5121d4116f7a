"""Response schemas of the router's API."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel


class DispatchRead(BaseModel):
    dispatch_id: UUID
    case_id: UUID
    owner_id: str
    role: str
    state: str
    ruleset_version: str
    acknowledge_due_at: datetime
    resolve_due_at: datetime
    progress_due_at: datetime | None
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    created_at: datetime


class TimelineEntry(BaseModel):
    at: datetime
    actor: str
    action: str
    from_state: str | None
    to_state: str | None
    reason: str | None
    rule_version: str | None
    dispatch_id: UUID | None


class CaseRead(BaseModel):
    case_id: UUID
    state: str
    close_kind: str | None
    channel: str
    category: str
    title: str
    location: dict[str, Any]
    tier: str | None
    urgency: str
    rule_id: str | None
    ruleset_version: str | None
    received_at: datetime
    dispatches: list[DispatchRead]
    timeline: list[TimelineEntry]


class RoutingRead(BaseModel):
    case_id: UUID
    decided_at: datetime
    ruleset_version: str
    decision: dict[str, Any]


class OwnerRead(BaseModel):
    id: str
    name: str
    kind: str
    parent: str | None
