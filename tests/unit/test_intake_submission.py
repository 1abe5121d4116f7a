"""Intake's decision on a submission, without I/O: replay, linked or new case, its status,
the key-person call, and what a later submission of the same transaction sees of an
earlier one (arrival order)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from shared.domain.intake_rules import DuplicatePolicy, IntakePolicy, KeyPersonPolicy
from shared.domain.intake_submission import (
    STATUS_LABELS,
    STATUS_RANK,
    Batch,
    Decision,
    Facts,
    History,
    Link,
    NewCase,
    Replay,
    Submitted,
    Target,
    decide_submission,
)

NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)
POLICY = IntakePolicy()
COMPOUND = "d01/s01/c01/g01/k01"


def _facts(batch: Batch, number: str, *, at: datetime = NOW, **kw: object) -> Facts:
    given: dict[str, object] = {
        "petitioner": "p_alice", "person": "p_alice", "compound": COMPOUND,
        "category": "property.elevator",
    } | kw  # fmt: skip
    return Facts(
        "hotline_12345", (("external_id", number),), at, batch=batch,
        **given,  # type: ignore[arg-type]
    )  # fmt: skip


def _write(facts: Facts, decision: Decision, case_number: str = "20261201-0001") -> Submitted:
    """What the writer answers for a decision (a new case gets a fresh id)."""
    if isinstance(decision, Replay):
        return decision.answer
    if isinstance(decision, Link):
        t = decision.target
        return Submitted(
            t.case_id, t.status, False, t.received_at, duplicate_of=t.case_id,
            key_person=decision.key_person, case_number=t.case_number,
        )  # fmt: skip
    return Submitted(
        uuid4(), decision.status, True, facts.now, key_person=decision.key_person,
        rebound_of=decision.rebound_of, case_number=case_number,
    )  # fmt: skip


def _run(facts: Facts, policy: IntakePolicy = POLICY) -> tuple[Decision, Submitted]:
    decision = decide_submission(facts, policy)
    answer = _write(facts, decision)
    facts.batch.record(facts, decision, answer)
    return decision, answer


def _target(case_id: UUID, at: datetime, **kw: object) -> Target:
    return Target(case_id, "dispatched", at, "same_petitioner", "20261101-0007", **kw)  # type: ignore[arg-type]


def test_a_number_known_before_the_transaction_is_answered_as_before() -> None:
    before = Submitted(uuid4(), "dispatched", False, NOW - timedelta(days=1), case_number="n")
    known = {("hotline_12345", "external_id", "A-1"): before}
    assert decide_submission(_facts(Batch(), "A-1", known=known), POLICY) == Replay(before)


def test_a_number_sent_twice_in_one_transaction_is_a_replay_of_the_first() -> None:
    batch = Batch()
    first, answer = _run(_facts(batch, "A-1"))
    assert isinstance(first, NewCase) and answer.created
    again, replayed = _run(_facts(batch, "A-1", at=NOW + timedelta(milliseconds=3)))
    assert isinstance(again, Replay)
    assert (replayed.case_id, replayed.created, replayed.status) == (
        answer.case_id,
        False,
        "received",
    )
    assert (replayed.received_at, replayed.case_number) == (NOW, answer.case_number)


def test_a_replay_of_a_linked_number_names_the_case_it_was_linked_to() -> None:
    batch, open_case = Batch(), _target(uuid4(), NOW - timedelta(days=2), key_person=True)
    linked, _ = _run(_facts(batch, "A-1", same_petitioner=open_case))
    assert isinstance(linked, Link)
    again, replayed = _run(_facts(batch, "A-1"))
    assert isinstance(again, Replay)
    assert replayed.duplicate_of == replayed.case_id == open_case.case_id
    assert (replayed.key_person, replayed.case_number) == (True, "20261101-0007")


def test_a_second_petition_of_one_matter_in_one_transaction_is_linked_to_the_first() -> None:
    batch = Batch()
    _, first = _run(_facts(batch, "A-1"))
    second, answer = _run(_facts(batch, "A-2", at=NOW + timedelta(milliseconds=1)))
    assert isinstance(second, Link)
    assert (second.target.case_id, second.target.reason) == (first.case_id, "same_petitioner")
    assert (answer.duplicate_of, answer.created, answer.case_number) == (
        first.case_id, False, first.case_number,
    )  # fmt: skip


def test_another_petitioner_category_or_compound_is_another_matter() -> None:
    batch = Batch()
    _run(_facts(batch, "A-1"))
    others: list[dict[str, Any]] = [
        {"petitioner": "p_bob", "person": "p_bob"},
        {"category": "property.water"},
        {"compound": "d01/s01/c01/g01/k02"},
    ]
    for kw in others:
        decision, _ = _run(_facts(batch, f"B-{len(batch.claimed)}", **kw))
        assert isinstance(decision, NewCase), kw


def test_an_anonymous_submission_is_never_linked_by_petitioner() -> None:
    batch = Batch()
    _run(_facts(batch, "A-1", petitioner=None, person=None))
    decision, _ = _run(_facts(batch, "A-2", petitioner=None, person=None))
    assert isinstance(decision, NewCase)


def test_a_case_mediated_on_the_spot_is_closed_and_no_later_petition_links_to_it() -> None:
    batch = Batch()
    first, answer = _run(_facts(batch, "A-1", mediated=True, mediation_outcome="已调解"))
    assert isinstance(first, NewCase) and not first.dispatched
    assert (answer.status, first.status_detail) == (
        "closed", {"close_kind": "mediated_on_site", "outcome": "已调解"},
    )  # fmt: skip
    second, _ = _run(_facts(batch, "A-2"))
    assert isinstance(second, NewCase) and second.dispatched and second.status == "received"


def test_the_oldest_open_case_is_the_target_stored_or_of_this_transaction() -> None:
    stored = _target(uuid4(), NOW - timedelta(days=3))
    batch = Batch()
    decision, _ = _run(_facts(batch, "A-1", same_petitioner=stored))
    assert isinstance(decision, Link) and decision.target == stored


def test_a_stored_case_past_the_window_is_not_a_target() -> None:
    old = _target(uuid4(), NOW - timedelta(days=31))
    assert isinstance(
        decide_submission(_facts(Batch(), "A-1", same_petitioner=old), POLICY), NewCase
    )


def test_linking_by_petitioner_switched_off_makes_every_petition_a_case() -> None:
    off = IntakePolicy(duplicates=DuplicatePolicy(petitioner_window_days=0))
    batch = Batch()
    _run(_facts(batch, "A-1"), off)
    decision, _ = _run(_facts(batch, "A-2", same_petitioner=_target(uuid4(), NOW)), off)
    assert isinstance(decision, NewCase)


def test_a_named_case_of_the_same_matter_wins_over_the_petitioners_own() -> None:
    named = Target(uuid4(), "received", NOW, "related_ref", "n", False)
    own = _target(uuid4(), NOW - timedelta(days=1))
    decision = decide_submission(_facts(Batch(), "A-1", named=named, same_petitioner=own), POLICY)
    assert isinstance(decision, Link) and decision.target == named


def test_a_rebound_names_the_explained_case_before() -> None:
    before = uuid4()
    decision = decide_submission(_facts(Batch(), "A-1", history=History(False, 0, before)), POLICY)
    assert isinstance(decision, NewCase)
    assert (decision.rebound_of, decision.status_detail) == (before, {"rebound_of": str(before)})


def test_the_third_petition_in_the_window_enters_the_person_once() -> None:
    policy = IntakePolicy(key_persons=KeyPersonPolicy(petitions=3, window_days=365))
    second = decide_submission(_facts(Batch(), "A-1", history=History(False, 1, None)), policy)
    assert isinstance(second, NewCase) and (second.key_person, second.entry) == (False, None)
    third = decide_submission(_facts(Batch(), "A-2", history=History(False, 2, None)), policy)
    assert third.entry is not None and third.key_person  # type: ignore[union-attr]
    assert (third.entry.person, third.entry.petitions) == ("p_alice", 3)  # type: ignore[union-attr]
    known = decide_submission(_facts(Batch(), "A-3", history=History(True, 9, None)), policy)
    assert isinstance(known, NewCase) and (known.key_person, known.entry) == (True, None)


def test_a_superior_transfer_enters_its_petitioner_at_once_and_anonymous_never() -> None:
    facts = _facts(Batch(), "A-1")
    over = Facts(
        "superior_transfer", facts.refs, NOW, "property.elevator", COMPOUND, "p_alice",
        Batch(), person="p_alice",
    )  # fmt: skip
    decision = decide_submission(over, POLICY)
    assert isinstance(decision, NewCase) and decision.entry is not None
    assert decision.entry.reason.startswith("over_the_head")
    anonymous = decide_submission(_facts(Batch(), "A-2", petitioner=None, person=None), POLICY)
    assert isinstance(anonymous, NewCase) and not anonymous.key_person


def test_status_labels_are_chinese_and_ranked_in_the_order_a_case_moves() -> None:
    assert STATUS_LABELS["received"] == "已受理" and STATUS_LABELS["closed"] == "已结案"
    assert STATUS_RANK["received"] < STATUS_RANK["dispatched"] < STATUS_RANK["closed"]


def test_a_persons_earlier_petitions_in_one_transaction_count_toward_key_person() -> None:
    policy = IntakePolicy(key_persons=KeyPersonPolicy(petitions=2, window_days=365))
    batch = Batch()
    first, _ = _run(_facts(batch, "A-1"), policy)
    assert isinstance(first, NewCase) and not first.key_person
    second, _ = _run(_facts(batch, "A-2", category="property.water"), policy)
    assert isinstance(second, NewCase) and second.key_person
    assert second.entry is not None and second.entry.petitions == 2
    third, _ = _run(_facts(batch, "A-3", category="property.gas"), policy)
    assert isinstance(third, NewCase) and (third.key_person, third.entry) == (True, None)
    other, _ = _run(_facts(batch, "B-1", petitioner="p_bob", person="p_bob"), policy)
    assert isinstance(other, NewCase) and not other.key_person


def test_a_history_read_after_the_batchs_rows_is_taken_as_it_is() -> None:
    policy = IntakePolicy(key_persons=KeyPersonPolicy(petitions=2, window_days=365))
    batch = Batch()
    _run(_facts(batch, "A-1"), policy)
    again = _facts(batch, "A-2", category="property.water", history_read_after=True)
    decision = decide_submission(again, policy)
    assert isinstance(decision, NewCase) and not decision.key_person
