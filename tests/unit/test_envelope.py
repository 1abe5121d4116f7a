"""The event envelope: round trip, causation, and refusal of malformed or unknown shapes."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest
from pydantic import ValidationError

from shared.contracts.envelope import Envelope, make_envelope
from shared.contracts.events import CaseReceived, LocationData, payload_model


def _received() -> CaseReceived:
    return CaseReceived(
        case_id=uuid4(),
        channel="hotline_12345",
        category="property.elevator",
        title="t",
        description="d",
        location=LocationData(compound="k01"),
    )


def test_an_envelope_round_trips_through_bytes() -> None:
    payload = _received()
    env = make_envelope(
        payload, producer="intake", occurred_at=datetime.now(UTC), case_id=payload.case_id
    )
    back = Envelope.from_bytes(env.to_bytes())
    assert back == env
    assert back.type == "case.received" and back.version == 1
    assert payload_model(back.type, back.version).model_validate(back.data) == payload


def test_a_caused_event_keeps_the_correlation_and_names_its_cause() -> None:
    now = datetime.now(UTC)
    first = make_envelope(_received(), producer="intake", occurred_at=now, case_id=None)
    second = make_envelope(
        _received(), producer="router", occurred_at=now, case_id=None, cause=first
    )
    assert second.correlation_id == first.correlation_id == first.id
    assert second.causation_id == first.id


def test_a_naive_timestamp_is_refused() -> None:
    env = make_envelope(_received(), producer="intake", occurred_at=datetime.now(UTC), case_id=None)
    raw = env.model_dump(mode="json") | {"occurred_at": "2026-01-01T00:00:00"}
    with pytest.raises(ValidationError):
        Envelope.model_validate(raw)


def test_unknown_envelope_fields_are_refused() -> None:
    env = make_envelope(_received(), producer="intake", occurred_at=datetime.now(UTC), case_id=None)
    with pytest.raises(ValidationError):
        Envelope.model_validate(env.model_dump(mode="json") | {"extra": 1})
