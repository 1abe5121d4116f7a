"""The event envelope every message on the bus carries.

The routing key is the event ``type``. ``data`` is validated against the payload model
registered for ``(type, version)`` in :mod:`shared.contracts.events`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict

from shared.ids import new_id


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: UUID
    type: str
    version: int = 1
    occurred_at: AwareDatetime
    case_id: UUID | None = None
    correlation_id: UUID
    causation_id: UUID | None = None
    producer: str
    data: dict[str, Any]

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"))

    @classmethod
    def from_bytes(cls, body: bytes) -> Envelope:
        return cls.model_validate_json(body)


def make_envelope(
    payload: BaseModel,
    *,
    producer: str,
    occurred_at: datetime,
    case_id: UUID | None,
    cause: Envelope | None = None,
) -> Envelope:
    """Wrap a payload; correlation follows the causing event when there is one."""
    from shared.contracts.events import event_type_of

    event_id = new_id()
    etype, version = event_type_of(type(payload))
    return Envelope(
        id=event_id,
        type=etype,
        version=version,
        occurred_at=occurred_at,
        case_id=case_id,
        correlation_id=cause.correlation_id if cause else event_id,
        causation_id=cause.id if cause else None,
        producer=producer,
        data=payload.model_dump(mode="json"),
    )
