"""The case number a person reads out on the phone."""

from __future__ import annotations

from datetime import date

import pytest

from shared.domain.case_numbers import case_number, is_case_number


def test_a_case_number_names_the_day_and_its_sequence() -> None:
    assert case_number(date(2026, 12, 7), 123) == "SB20261207-000123"
    assert case_number(date(2026, 12, 7), 1_234_567) == "SB20261207-1234567"
    assert is_case_number("SB20261207-000123") and not is_case_number("01a25017")


def test_a_sequence_starts_at_one() -> None:
    with pytest.raises(ValueError, match="positive"):
        case_number(date(2026, 12, 7), 0)
