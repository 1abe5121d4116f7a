"""Signatures, pseudonyms, masking and encryption of personal data."""

from __future__ import annotations

import pytest
from cryptography.fernet import InvalidToken

from shared.security.pii import PiiVault, mask_phone, petitioner_ref
from shared.security.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, signed_headers, verify
from shared.settings import DEV_PII_KEY


def test_a_signed_body_verifies_and_a_tampered_one_does_not() -> None:
    headers = signed_headers("s3cret-s3cret-s3cret", 1_700_000_000, b'{"a":1}')
    assert verify("s3cret-s3cret-s3cret", headers, b'{"a":1}', now=1_700_000_010)
    assert not verify("s3cret-s3cret-s3cret", headers, b'{"a":2}', now=1_700_000_010)
    assert not verify("another-secret-xx", headers, b'{"a":1}', now=1_700_000_010)


def test_a_signature_older_than_five_minutes_is_a_replay() -> None:
    headers = signed_headers("k" * 20, 1_700_000_000, b"{}")
    assert not verify("k" * 20, headers, b"{}", now=1_700_000_000 + 301)


def test_missing_signature_headers_do_not_verify() -> None:
    headers = signed_headers("k" * 20, 1_700_000_000, b"{}")
    assert not verify(
        "k" * 20, {TIMESTAMP_HEADER: headers[TIMESTAMP_HEADER]}, b"{}", now=1_700_000_000
    )
    assert not verify(
        "k" * 20, {SIGNATURE_HEADER: headers[SIGNATURE_HEADER]}, b"{}", now=1_700_000_000
    )


def test_petitioner_ref_is_stable_across_phone_formats_and_reveals_nothing() -> None:
    a = petitioner_ref("key", phone="138-0000-1234", id_number=None)
    b = petitioner_ref("key", phone="+86 13800001234", id_number=None)
    assert a == b and a is not None
    assert "1380000" not in a and "1234" not in a
    assert petitioner_ref("other-key", phone="13800001234", id_number=None) != a


def test_anonymous_petitioner_has_no_ref() -> None:
    assert petitioner_ref("key", phone=None, id_number=None) is None


def test_department_sees_a_masked_phone() -> None:
    assert mask_phone("13800001234") == "138****1234"
    assert mask_phone(None) is None


def test_personal_data_is_encrypted_at_rest_and_round_trips() -> None:
    vault = PiiVault(DEV_PII_KEY)
    sealed = vault.seal("13800001234")
    assert sealed is not None and b"13800001234" not in sealed
    assert vault.open(sealed) == "13800001234"
    with pytest.raises(InvalidToken):
        PiiVault("x" * 43 + "=").open(sealed)
