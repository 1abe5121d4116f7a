"""Pure pieces of the notifier and the rating step: no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from uuid import uuid4

import pytest
from pydantic import ValidationError

from services.notifier.api.endpoints import EndpointWrite
from services.notifier.deps import NotifierSettings
from services.notifier.handlers.common import channel_owner
from services.notifier.petitioner import quiet_hours
from services.notifier.tables import DELIVERIES_POLLER
from services.notifier.unit_of_work import NotifierUnit
from shared.contracts.envelope import make_envelope
from shared.contracts.events import CaseReceived, LocationData
from shared.domain.case import close_kind
from shared.domain.lifecycle import CaseState, fire_case
from shared.domain.taxonomy import CloseKind, Rating
from shared.messaging.consumer import HandlerContext

SECRET = "0123456789abcdef"


def test_satisfied_ratings_close_with_the_leads_outcome() -> None:
    for rating in (Rating.SATISFIED, Rating.BASICALLY_SATISFIED):
        assert close_kind(rating, second_handling=False, outcome=CloseKind.RESOLVED) is (
            CloseKind.RESOLVED
        )
    assert close_kind(Rating.SATISFIED, second_handling=False, outcome=CloseKind.EXPLAINED) is (
        CloseKind.EXPLAINED
    )


def test_a_first_unsatisfied_rating_reopens_and_a_second_closes_as_explained() -> None:
    assert close_kind(Rating.UNSATISFIED, second_handling=False, outcome=CloseKind.RESOLVED) is None
    kind = close_kind(Rating.UNSATISFIED, second_handling=True, outcome=CloseKind.RESOLVED)
    assert kind is CloseKind.EXPLAINED
    closed = fire_case(
        CaseState.AWAITING_FEEDBACK, "close", kind=kind, rating=Rating.UNSATISFIED,
        second_handling=True,
    )  # fmt: skip
    assert closed is CaseState.CLOSED


def test_every_close_kind_the_rating_step_chooses_is_one_the_lifecycle_accepts() -> None:
    for rating in (Rating.SATISFIED, Rating.BASICALLY_SATISFIED):
        for outcome in (CloseKind.RESOLVED, CloseKind.EXPLAINED, CloseKind.REFERRED):
            kind = close_kind(rating, second_handling=False, outcome=outcome)
            state = fire_case(
                CaseState.AWAITING_FEEDBACK, "close", kind=kind, rating=rating,
                second_handling=False,
            )  # fmt: skip
            assert state is CaseState.CLOSED


def test_an_endpoint_is_a_webhook_or_an_email_and_nothing_else() -> None:
    assert EndpointWrite(url="https://example.org/hook", secret=SECRET).kind == "webhook"  # type: ignore[arg-type]
    assert EndpointWrite(url="mailto:ops@example.org", secret=SECRET).kind == "email"  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        EndpointWrite(url="ftp://example.org/x", secret=SECRET)  # type: ignore[arg-type]


def test_a_channel_callback_is_stored_under_a_name_no_owner_can_have() -> None:
    assert channel_owner("hotline_12345") == "channel:hotline_12345"


def test_petitioner_messages_in_quiet_hours_are_held_until_morning() -> None:
    quiet = quiet_hours(NotifierSettings())
    late = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
    assert quiet.contains(late)
    assert quiet.next_allowed(late) == datetime(2026, 3, 3, 0, 0, tzinfo=UTC)  # 08:00
    noon = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
    assert quiet.next_allowed(noon) == noon


def test_an_empty_quiet_window_sends_at_any_time() -> None:
    quiet = quiet_hours(NotifierSettings(quiet_start=time(0, 0), quiet_end=time(0, 0)))
    assert not quiet.contains(datetime(2026, 3, 2, 15, 0, tzinfo=UTC))


def _ctx() -> HandlerContext:
    cause = make_envelope(
        CaseReceived(
            case_id=uuid4(), channel="hotline_12345", category="property.elevator",
            title="电梯停运", description="d", location=LocationData(compound="k01"),
        ),
        producer="test", occurred_at=datetime.now(UTC), case_id=None,
    )  # fmt: skip
    return HandlerContext(conn=None, now=datetime.now(UTC), cause=cause, producer="notifier",
                          deps=None)  # type: ignore[arg-type]  # fmt: skip


@pytest.mark.parametrize(
    ("status", "later", "wakes"),
    [
        ("pending", None, {DELIVERIES_POLLER}),  # due now: the worker claims it at once
        ("pending", timedelta(hours=9), set()),  # held (quiet hours): time makes it due
        ("no_endpoint", None, set()),  # nothing to send
    ],
)
async def test_only_a_delivery_due_now_wakes_the_delivery_worker(
    status: str, later: timedelta | None, wakes: set[str]
) -> None:
    ctx = _ctx()
    not_before = ctx.now + later if later else None
    await NotifierUnit(ctx).deliveries.add("d01-zjj", {"text": "派单"}, case_id=ctx.cause.case_id,
                                           status=status, not_before=not_before)  # fmt: skip
    assert ctx.wakes == wakes
    assert len(ctx.deferred.rows) == 1  # the row is written either way
