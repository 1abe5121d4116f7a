"""Durations: the short forms operators write, and the test clock's ``advance`` argument."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.domain.durations import Duration, parse_advance


@pytest.mark.parametrize(
    ("text", "fields", "printed"),
    [
        ("15m", {"minutes": 15}, "15m"),
        ("30m", {"minutes": 30}, "30m"),
        ("24h", {"hours": 24}, "24h"),
        ("3d", {"days": 3}, "3d"),
        ("2w", {"days": 14}, "14d"),
        ("5wd", {"working_days": 5}, "5wd"),
        ("15wd", {"working_days": 15}, "15wd"),
        ("0.5wd", {"working_days": 0.5}, "0.5wd"),
        (" 5 WD ", {"working_days": 5}, "5wd"),
    ],
)
def test_short_forms_parse_and_print_back(
    text: str, fields: dict[str, float], printed: str
) -> None:
    duration = Duration.parse(text)
    assert duration == Duration(**fields)
    assert str(duration) == printed
    assert Duration.model_validate(text) == duration


def test_long_form_dicts_are_accepted() -> None:
    assert Duration.model_validate({"working_days": 5}) == Duration.parse("5wd")
    assert Duration.model_validate({"hours": 24}).as_timedelta() == timedelta(hours=24)


def test_working_days_have_no_fixed_length_and_name_their_unit() -> None:
    duration = Duration.parse("5wd")
    assert duration.as_timedelta() is None
    assert (duration.unit, duration.amount) == ("working_days", 5)
    assert isinstance(duration.amount, int)


@pytest.mark.parametrize(
    "bad", ["", "5", "wd", "5x", "-3d", "1.5h", "5 working days", "3d4h", "0m", "0wd", "1e3m"]
)
def test_bad_strings_are_refused_with_a_clear_value_error(bad: str) -> None:
    with pytest.raises(ValueError, match=r"时长|unit"):
        Duration.parse(bad)


def test_the_error_lists_the_accepted_forms() -> None:
    with pytest.raises(ValueError, match=r"15m / 24h / 3d / 2w / 5wd"):
        Duration.parse("five days")


@pytest.mark.parametrize(
    "bad", [{}, {"hours": 1, "minutes": 5}, {"hours": -1}, {"weeks": 2}, {"working_days": -0.5}]
)
def test_a_duration_has_exactly_one_positive_known_unit(bad: dict[str, int]) -> None:
    with pytest.raises(ValidationError):
        Duration.model_validate(bad)


def test_durations_are_frozen() -> None:
    duration = Duration.parse("24h")
    with pytest.raises(ValidationError):
        duration.hours = 25  # type: ignore[misc]


@given(
    st.sampled_from(["minutes", "hours", "days", "working_days"]),
    st.integers(min_value=1, max_value=10_000),
)
def test_printing_then_parsing_gives_the_same_duration(unit: str, amount: int) -> None:
    duration = Duration(**{unit: amount})
    assert Duration.parse(str(duration)) == duration


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("90m", timedelta(minutes=90)),
        ("24h", timedelta(hours=24)),
        ("3d", timedelta(days=3)),
        ("2w", timedelta(weeks=2)),
    ],
)
def test_the_test_clock_advances_by_wall_clock_amounts(text: str, delta: timedelta) -> None:
    assert parse_advance(text) == delta


@pytest.mark.parametrize("bad", ["5wd", "0m", "soon", "-1h", "99999999999d"])
def test_the_test_clock_refuses_working_days_zero_and_nonsense(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_advance(bad)
