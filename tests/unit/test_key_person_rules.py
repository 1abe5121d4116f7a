"""The pure rules of the key-person registry and of persons of many numbers (issue 23)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.intake.persons import Known, linking
from shared.domain.errors import InvalidTransition
from shared.domain.key_persons import (
    KeyPersonState,
    is_review_due,
    next_state,
    person_of,
    review_due,
    split_refusal,
)
from shared.security.pii import identity_refs, mask_phone

ACTIVE, LEFT = KeyPersonState.ACTIVE, KeyPersonState.LEFT
NOW = datetime(2026, 12, 9, 2, 0, tzinfo=UTC)


def test_a_person_enters_is_reviewed_and_leaves_and_may_enter_again() -> None:
    assert next_state(None, "enter") is ACTIVE
    assert next_state(ACTIVE, "review") is ACTIVE
    assert next_state(ACTIVE, "leave") is LEFT
    assert next_state(LEFT, "enter") is ACTIVE


@pytest.mark.parametrize(
    ("state", "action", "reason"),
    [
        (ACTIVE, "enter", "已在重点人员库中"),
        (LEFT, "leave", "不在库"),
        (None, "review", "不在库"),
        (LEFT, "plan", "不在库"),
        (None, "visit", "未列入"),
        (None, "convert", "未列入"),
    ],
)
def test_a_refused_step_names_its_reason(
    state: KeyPersonState | None, action: str, reason: str
) -> None:
    with pytest.raises(InvalidTransition) as err:
        next_state(state, action)
    assert reason in err.value.reason


def test_a_person_who_left_may_still_be_visited_and_converted() -> None:
    next_state(LEFT, "visit")
    next_state(LEFT, "convert")


def test_the_review_falls_due_after_the_cadence() -> None:
    due = review_due(date(2026, 12, 9), 90)
    assert due == date(2027, 3, 9)
    assert not is_review_due(due, date(2027, 3, 8))
    assert is_review_due(due, date(2027, 3, 9))
    assert not is_review_due(None, date(2030, 1, 1))


def test_a_submission_gives_phone_id_and_name_address_identities_phone_first() -> None:
    given = identity_refs("k", phone="139 0000 1111", id_number="11010119900101123x",
                          name="孙 丽华", address="幸福里 3号楼2单元401")  # fmt: skip
    assert [kind for kind, _ in given] == ["phone", "id_number", "name_address"]
    same = identity_refs("k", phone="13900001111", id_number=None, name="孙丽华",
                         address="幸福里3号楼2单元４０１")  # fmt: skip
    assert same[0] == given[0] and same[1] == given[2]  # spaces, full-width: the same person


@pytest.mark.parametrize(
    ("name", "address"),
    [
        ("王女士", "幸福里3号楼2单元401"),  # an honorific, not a name: many 王女士 per building
        ("张某", "5-2-302"),
        ("测试", "1201室"),
        ("王芳", "幸福里小区3号楼"),  # a building, not a door: hundreds of households
        ("王芳", "和平里小区"),
    ],
)
def test_name_and_address_identify_nobody_unless_both_are_specific(name: str, address: str) -> None:
    kinds = [k for k, _ in identity_refs("k", phone="13900001111", id_number=None,
                                         name=name, address=address)]  # fmt: skip
    assert kinds == ["phone"]
    assert identity_refs("k", phone=None, id_number=None, name="孙女士", address="x") == []
    assert [k for k, _ in identity_refs("k", phone="13900001111", id_number=None,
                                        name="孙女士", address=None)] == ["phone"]  # fmt: skip


def test_the_first_linked_identity_names_the_person() -> None:
    assert person_of(["a", "b"], {}) == ("a", ["b"])
    assert person_of(["a", "b"], {"b": "p"}) == ("p", ["a"])
    assert person_of(["a", "b", "c"], {"b": "p", "c": "q"}) == ("p", ["a", "q"])
    assert person_of(["a"], {"a": "p"}) == ("p", [])


def test_linking_writes_rows_only_for_identities_not_yet_with_the_person() -> None:
    ids = [("phone", "a"), ("name_address", "n")]
    new = linking(ids, {}, NOW)
    assert new.person == "a" and {r["ref"] for r in new.rows} == {"a", "n"} and new.fold == []
    known = {"a": Known("a", True, False), "n": Known("a", True, False)}
    assert linking(ids, known, NOW).rows == []
    alone = linking([("phone", "a")], {"a": Known("a", False, True)}, NOW)
    assert alone.person == "a" and alone.rows == []


def test_a_registered_or_linked_person_met_on_a_submission_is_folded_in() -> None:
    ids = [("phone", "m"), ("id_number", "x")]
    known = {"m": Known("m", False, True), "x": Known("h", True, False)}
    made = linking(ids, known, NOW)
    assert made.person == "h" and made.fold == ["m"]
    assert [r["ref"] for r in made.rows] == ["m"]
    plain = {"m": Known("m", False, False), "x": Known("h", True, False)}
    assert linking(ids, plain, NOW).fold == []


def test_a_split_keeps_the_persons_own_ref() -> None:
    assert split_refusal("a", ["b"], ["a", "b"]) is None
    assert "主号码" in (split_refusal("a", ["a"], ["a", "b"]) or "")
    assert "不属于" in (split_refusal("a", ["z"], ["a", "b"]) or "")
    assert split_refusal("a", [], ["a"]) is not None


def test_a_phone_the_installations_keys_cannot_open_is_shown_as_none_not_an_error() -> None:
    """One key person sealed under a retired key must not turn the whole list into a 500
    (it did: an InvalidToken from the list's first such row)."""
    from cryptography.fernet import Fernet

    from services.intake.key_person_views import _masked_phone
    from shared.security.pii import PiiVault

    ours, other = PiiVault(Fernet.generate_key().decode()), PiiVault(Fernet.generate_key().decode())
    assert _masked_phone(ours, "p_1", other.seal("13800138000")) is None
    assert _masked_phone(ours, "p_1", ours.seal("13800138000")) == mask_phone("13800138000")
    assert _masked_phone(ours, "p_1", None) is None
