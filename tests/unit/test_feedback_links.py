"""Signed feedback links: only the right key, the right case and an unexpired link rate."""

from __future__ import annotations

from uuid import uuid4

from shared.security.links import feedback_token, read_feedback_token


def test_a_signed_link_names_its_case_until_it_expires() -> None:
    case_id = uuid4()
    token = feedback_token("k", case_id, expires=2_000)
    assert read_feedback_token("k", token, now=1_999) == case_id
    assert read_feedback_token("k", token, now=2_001) is None


def test_a_forged_or_altered_link_is_refused() -> None:
    case_id = uuid4()
    token = feedback_token("k", case_id, expires=2_000)
    other = str(uuid4())
    assert read_feedback_token("other-key", token, now=0) is None
    assert read_feedback_token("k", token.replace(str(case_id), other), now=0) is None
    assert read_feedback_token("k", token.replace(".2000.", ".9999."), now=0) is None
    assert read_feedback_token("k", "not-a-token", now=0) is None
    assert read_feedback_token("k", "x.y.z", now=0) is None


def test_non_ascii_digits_or_mac_are_refused_not_raised() -> None:
    case_id = "00000000-0000-0000-0000-000000000000"
    for token in (
        f"{case_id}.\u00b2.x",
        f"{case_id}.9999999999.\u00e9",
        f"{case_id}.1.{'0' * 31}\u00e9",
    ):
        assert read_feedback_token("k", token, now=0) is None
