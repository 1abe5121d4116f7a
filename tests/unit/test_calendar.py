"""The working-day calendar: shipped data, deadline arithmetic, bad files, quiet hours."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.calendar import SHANGHAI, QuietHours, WorkingCalendar, YearData
from shared.domain.durations import Duration
from shared.domain.errors import ConfigError

CALENDAR_DIR = Path(__file__).resolve().parents[2] / "config" / "calendar"


def sh(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """An Asia/Shanghai wall-clock time."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture(scope="module")
def shipped() -> WorkingCalendar:
    return WorkingCalendar.load(CALENDAR_DIR)


@pytest.fixture
def cal() -> WorkingCalendar:
    """A fresh calendar per test, so ``uncovered_years_seen`` starts empty."""
    return WorkingCalendar.load(CALENDAR_DIR)


# --- the shipped data ----------------------------------------------------------------------------
def test_shipped_calendar_covers_2025_to_2027(shipped: WorkingCalendar) -> None:
    assert shipped.covers(2025) and shipped.covers(2026) and shipped.covers(2027)
    assert not shipped.covers(2028)


def test_the_provisional_2027_keeps_the_statutory_days_off(shipped: WorkingCalendar) -> None:
    """Until the 2027 notice is transcribed: 元旦, 春节 with its 补假, 劳动节 and 国庆 are off."""
    for off in (date(2027, 1, 1), date(2027, 2, 5), date(2027, 2, 8), date(2027, 2, 10),
                date(2027, 4, 5), date(2027, 5, 3), date(2027, 6, 9), date(2027, 9, 15),
                date(2027, 10, 5)):  # fmt: skip
        assert not shipped.is_working_day(off), off
    assert shipped.is_working_day(date(2027, 1, 4)) and shipped.is_working_day(date(2027, 2, 11))
    # A 5-working-day deadline from the last working day of 2026 skips New Year's Day.
    assert shipped.add_working_days(sh(2026, 12, 31, 10), 5) == sh(2027, 1, 8, 10)


def test_a_year_ahead_without_a_file_or_only_provisional_is_warned_60_days_before(
    shipped: WorkingCalendar,
) -> None:
    assert shipped.coverage_warnings(date(2026, 10, 1)) == []  # 2027 more than 60 days away
    (warning,) = shipped.coverage_warnings(date(2026, 12, 7))
    assert "2027" in warning and "临时" in warning
    assert shipped.coverage_warnings(date(2027, 11, 2))[1].startswith("2028 年工作日历缺失")
    final = WorkingCalendar.load(CALENDAR_DIR).coverage_warnings(date(2026, 11, 1))
    assert final == []  # 2027 is 61 days away


def test_a_provisional_flag_must_be_a_boolean(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="true 或 false"):
        load_one(tmp_path, "year: 2027\nprovisional: maybe\n")


@pytest.mark.parametrize(
    "makeup",
    [
        date(2025, 1, 26), date(2025, 2, 8), date(2025, 4, 27), date(2025, 9, 28),
        date(2025, 10, 11), date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28),
        date(2026, 5, 9), date(2026, 9, 20), date(2026, 10, 10),
    ],
)  # fmt: skip
def test_a_makeup_weekend_day_counts_as_a_working_day(
    shipped: WorkingCalendar, makeup: date
) -> None:
    assert makeup.weekday() >= 5
    assert shipped.is_working_day(makeup)


@pytest.mark.parametrize(
    "holiday",
    [
        date(2025, 1, 1), date(2025, 1, 28), date(2025, 2, 4), date(2025, 5, 5),
        date(2025, 6, 2), date(2025, 10, 8), date(2026, 1, 2), date(2026, 2, 16),
        date(2026, 2, 23), date(2026, 4, 6), date(2026, 5, 5), date(2026, 6, 19),
        date(2026, 9, 25), date(2026, 10, 1), date(2026, 10, 7),
    ],
)  # fmt: skip
def test_a_statutory_holiday_on_a_weekday_is_not_a_working_day(
    shipped: WorkingCalendar, holiday: date
) -> None:
    assert holiday.weekday() < 5
    assert not shipped.is_working_day(holiday)


def test_ordinary_weekends_are_off_and_weekdays_on(shipped: WorkingCalendar) -> None:
    assert not shipped.is_working_day(date(2026, 3, 7))  # Saturday
    assert shipped.is_working_day(date(2026, 3, 9))  # Monday
    assert shipped.holiday_name(date(2026, 2, 17)) == "春节"


# --- N working days from Friday 16:00 ------------------------------------------------------------
def test_five_working_days_from_friday_before_spring_festival_count_the_makeup_saturday(
    shipped: WorkingCalendar,
) -> None:
    # Sat 2/14 (调休) is day 1; 2/15–2/23 are off; then Tue 24, Wed 25, Thu 26, Fri 27.
    assert shipped.add_working_days(sh(2026, 2, 13, 16), 5) == sh(2026, 2, 27, 16)


def test_five_working_days_from_the_friday_before_the_second_makeup_saturday(
    shipped: WorkingCalendar,
) -> None:
    # Sat 2/28 (调休) is day 1; Mon 3/2 … Thu 3/5.
    assert shipped.add_working_days(sh(2026, 2, 27, 16), 5) == sh(2026, 3, 5, 16)


def test_five_working_days_from_friday_before_national_day_count_the_makeup_sunday(
    shipped: WorkingCalendar,
) -> None:
    # Sun 9/20 (调休) is day 1; Mon 21 … Thu 24 (Fri 25 is 中秋).
    assert shipped.add_working_days(sh(2026, 9, 18, 16), 5) == sh(2026, 9, 24, 16)


def test_ten_working_days_from_friday_span_mid_autumn_and_national_day(
    shipped: WorkingCalendar,
) -> None:
    # 9/20, 21–24, 28–30, then 10/8 and Fri 10/9 (10/1–10/7 off).
    assert shipped.add_working_days(sh(2026, 9, 18, 16), 10) == sh(2026, 10, 9, 16)


def test_five_working_days_from_friday_after_national_day_count_the_makeup_saturday(
    shipped: WorkingCalendar,
) -> None:
    # Sat 10/10 (调休) is day 1; Mon 12 … Thu 15.
    assert shipped.add_working_days(sh(2026, 10, 9, 16), 5) == sh(2026, 10, 15, 16)


def test_five_working_days_before_national_day_resume_after_the_holiday(
    shipped: WorkingCalendar,
) -> None:
    # Wed 9/30 16:00 → 10/8, 10/9, Sat 10/10, Mon 10/12, Tue 10/13.
    assert shipped.add_working_days(sh(2026, 9, 30, 16), 5) == sh(2026, 10, 13, 16)


def test_results_are_utc_and_the_local_day_decides(shipped: WorkingCalendar) -> None:
    # 2026-02-13 17:00 UTC is Saturday 2/14 01:00 in Shanghai: a 调休 working day.
    start = datetime(2026, 2, 13, 17, tzinfo=UTC)
    due = shipped.add_working_days(start, 1)
    assert due.tzinfo is UTC
    assert due == sh(2026, 2, 24, 1)


def test_a_naive_datetime_is_refused(shipped: WorkingCalendar) -> None:
    with pytest.raises(ValueError, match="aware"):
        shipped.add_working_days(datetime(2026, 2, 13, 16), 1)


# --- starting on a day off -----------------------------------------------------------------------
def test_a_start_on_a_holiday_counts_from_the_next_working_morning(
    shipped: WorkingCalendar,
) -> None:
    # Fri 2/20 is 春节: counting starts Tue 2/24 00:00; five full days end Sat 2/28 (调休)
    # at 24:00, followed by a Sunday, so the deadline is Monday 3/2 00:00.
    assert shipped.add_working_days(sh(2026, 2, 20, 16), 5) == sh(2026, 3, 2, 0)
    assert shipped.add_working_days(sh(2026, 2, 20, 16), 4.5) == sh(2026, 2, 28, 12)


def test_one_working_day_from_saturday_morning_ends_with_monday(
    shipped: WorkingCalendar,
) -> None:
    assert shipped.add_working_days(sh(2026, 3, 7, 10), 1) == sh(2026, 3, 10, 0)


def test_a_deadline_at_the_end_of_a_working_day_moves_past_the_days_off(
    shipped: WorkingCalendar,
) -> None:
    # Thu 9/24 00:00 + 1 wd = end of Thursday; 9/25–27 are 中秋, so Monday 9/28 00:00.
    assert shipped.add_working_days(sh(2026, 9, 24), 1) == sh(2026, 9, 28)


def test_zero_working_days_from_a_holiday_is_the_next_working_morning(
    shipped: WorkingCalendar,
) -> None:
    assert shipped.add_working_days(sh(2026, 10, 3, 9), 0) == sh(2026, 10, 8)
    assert shipped.add_working_days(sh(2026, 10, 9, 9), 0) == sh(2026, 10, 9, 9)


def test_half_a_working_day_is_twelve_hours_of_working_time(shipped: WorkingCalendar) -> None:
    # Friday 2/13 16:00 has 8 h left; 4 more on Saturday 2/14 (调休).
    assert shipped.add_working_days(sh(2026, 2, 13, 16), 0.5) == sh(2026, 2, 14, 4)


def test_negative_working_days_are_refused(shipped: WorkingCalendar) -> None:
    with pytest.raises(ValueError):
        shipped.add_working_days(sh(2026, 3, 9), -1)


# --- wall-clock durations ------------------------------------------------------------------------
def test_twenty_four_hours_across_a_holiday_is_twenty_four_hours(
    shipped: WorkingCalendar,
) -> None:
    assert shipped.add(sh(2026, 9, 30, 16), Duration.parse("24h")) == sh(2026, 10, 1, 16)
    assert shipped.add(sh(2026, 2, 14, 16), Duration.parse("24h")) == sh(2026, 2, 15, 16)


def test_calendar_days_ignore_holidays_but_working_days_do_not(
    shipped: WorkingCalendar,
) -> None:
    start = sh(2026, 2, 13, 16)
    assert shipped.add(start, Duration.parse("3d")) == sh(2026, 2, 16, 16)
    assert shipped.add(start, Duration.parse("5wd")) == sh(2026, 2, 27, 16)
    assert shipped.add(start, Duration.parse("30m")).tzinfo is UTC


# --- working time elapsed (KPIs) ------------------------------------------------------------------
def test_working_time_between_skips_the_spring_festival(shipped: WorkingCalendar) -> None:
    # Fri 8 h + Sat 2/14 (调休) 24 h + Tue 2/24 16 h = 2 working days.
    elapsed = shipped.working_time_between(sh(2026, 2, 13, 16), sh(2026, 2, 24, 16))
    assert elapsed == timedelta(days=2)
    assert elapsed / timedelta(days=1) == 2.0


def test_working_time_within_a_holiday_is_zero_and_reversed_is_negative(
    shipped: WorkingCalendar,
) -> None:
    assert shipped.working_time_between(sh(2026, 10, 1, 9), sh(2026, 10, 7, 18)) == timedelta(0)
    assert shipped.working_time_between(sh(2026, 3, 10), sh(2026, 3, 9)) == -timedelta(days=1)


# --- a year the data does not cover --------------------------------------------------------------
def test_an_uncovered_year_counts_weekends_only_and_is_recorded(cal: WorkingCalendar) -> None:
    assert cal.uncovered_years_seen == set()
    assert cal.is_working_day(date(2030, 10, 1))  # a Tuesday; really 国庆, but no data
    assert not cal.is_working_day(date(2030, 10, 5))  # Saturday
    assert cal.uncovered_years_seen == {2030}


def test_an_uncovered_year_is_reported_once_to_the_callback() -> None:
    reported: list[int] = []
    cal = WorkingCalendar.load(CALENDAR_DIR, on_uncovered=reported.append)
    due = cal.add_working_days(sh(2028, 12, 22, 16), 5)  # Fri → Fri 29/12/2028: no data yet
    assert due == sh(2028, 12, 29, 16)
    cal.add_working_days(sh(2028, 3, 1), 15)
    assert reported == [2028] and cal.uncovered_years_seen == {2028}


def test_a_covered_year_is_never_reported() -> None:
    reported: list[int] = []
    cal = WorkingCalendar.load(CALENDAR_DIR, on_uncovered=reported.append)
    cal.add_working_days(sh(2026, 2, 13, 16), 15)
    assert reported == [] and cal.uncovered_years_seen == set()


def test_data_can_be_given_directly() -> None:
    cal = WorkingCalendar.from_data(
        {2031: YearData(2031, holidays={date(2031, 1, 1): "元旦"}, workdays={})}
    )
    assert not cal.is_working_day(date(2031, 1, 1)) and cal.covers(2031)
    with pytest.raises(ConfigError, match=r"周末|weekend"):
        YearData(2031, workdays={date(2031, 1, 6): "调休"})  # a Monday


# --- bad files -----------------------------------------------------------------------------------
GOOD = """\
year: 2027
source: test
holidays:
  - {name: 元旦, date: 2027-01-01}
  - {name: 春节, from: 2027-02-06, to: 2027-02-12}
workdays:
  - {name: 春节调休, date: 2027-02-14}
"""


def load_one(tmp_path: Path, text: str, name: str = "2027.yaml") -> WorkingCalendar:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return WorkingCalendar.load(tmp_path)


def test_a_new_year_is_added_as_a_file_without_code(tmp_path: Path) -> None:
    cal = load_one(tmp_path, GOOD)
    assert cal.covers(2027)
    assert cal.is_working_day(date(2027, 2, 14)) and not cal.is_working_day(date(2027, 2, 8))


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        (GOOD.replace("2027-01-01", "2027-02-30"), 4, "bad date"),
        (GOOD.replace("2027-01-01", "01/01/2027"), 4, "bad date"),
        (GOOD.replace("2027-02-14", "2027-02-08"), 7, "both as holiday and workday"),
        (GOOD.replace("2027-02-14", "2027-02-15"), 7, "must be a Saturday or Sunday"),
        (GOOD.replace("2027-01-01", "2026-06-01"), 4, "does not match"),
        (GOOD.replace("year: 2027", "year: 2028"), 1, "file year mismatch"),
        (GOOD.replace("to: 2027-02-12", "to: 2027-02-01"), 5, "bad range"),
        (GOOD.replace("2027-01-01", "2027-02-07"), 5, "listed twice"),
        (GOOD.replace("source: test", "sorce: test"), 2, "unknown"),
        (GOOD.replace("{name: 元旦, date: 2027-01-01}", "{date: 2027-01-01}"), 4, "missing name"),
        (GOOD.replace("workdays:", "workdays: [oops"), 7, "syntax"),
    ],
)
def test_a_bad_calendar_file_is_refused_naming_file_line_and_reason(
    tmp_path: Path, text: str, line: int, reason: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_one(tmp_path, text)
    assert caught.value.file == "2027.yaml"
    assert caught.value.line == line
    assert reason in str(caught.value)
    assert str(caught.value).startswith(f"2027.yaml:{line}")


def test_a_holiday_range_may_spill_a_few_days_into_the_neighbouring_year(
    tmp_path: Path,
) -> None:
    cal = load_one(tmp_path, GOOD.replace("date: 2027-01-01}", "from: 2026-12-31, to: 2027-01-02}"))
    assert not cal.is_working_day(date(2026, 12, 31))


def test_two_files_that_disagree_about_a_date_are_refused(tmp_path: Path) -> None:
    (tmp_path / "2028.yaml").write_text(
        "year: 2028\nworkdays:\n  - {name: 调休, date: 2027-12-26}\n", encoding="utf-8"
    )
    text = GOOD.replace("date: 2027-01-01}", "date: 2027-01-01}\n  - {name: 假, date: 2027-12-26}")
    with pytest.raises(ConfigError, match=r"conflicts with 2027\.yaml") as caught:
        load_one(tmp_path, text)
    assert caught.value.file == "2028.yaml" and caught.value.line == 3


def test_a_missing_directory_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="missing"):
        WorkingCalendar.load(tmp_path / "nope")


# --- quiet hours ---------------------------------------------------------------------------------
QUIET = QuietHours(start=time(21, 0), end=time(8, 0))


@pytest.mark.parametrize(
    ("at", "quiet"),
    [((21, 0), True), ((23, 30), True), ((0, 0), True), ((7, 59), True),
     ((8, 0), False), ((12, 0), False), ((20, 59), False)],
)  # fmt: skip
def test_quiet_hours_cross_midnight(at: tuple[int, int], quiet: bool) -> None:
    assert QUIET.contains(sh(2026, 3, 9, *at)) is quiet


def test_a_reminder_in_quiet_hours_is_held_until_they_end_not_dropped() -> None:
    assert QUIET.next_allowed(sh(2026, 3, 9, 22, 30)) == sh(2026, 3, 10, 8)
    assert QUIET.next_allowed(sh(2026, 3, 10, 3, 15)) == sh(2026, 3, 10, 8)
    assert QUIET.next_allowed(sh(2026, 3, 10, 3, 15)).tzinfo is UTC


def test_a_reminder_outside_quiet_hours_goes_at_once() -> None:
    at = sh(2026, 3, 9, 14, 5)
    assert QUIET.next_allowed(at) == at


def test_quiet_hours_are_judged_in_shanghai_time() -> None:
    # 13:30 UTC is 21:30 in Shanghai.
    assert QUIET.contains(datetime(2026, 3, 9, 13, 30, tzinfo=UTC))


def test_a_window_that_does_not_cross_midnight() -> None:
    lunch = QuietHours(start=time(12, 0), end=time(14, 0))
    assert lunch.contains(sh(2026, 3, 9, 12, 0)) and not lunch.contains(sh(2026, 3, 9, 14, 0))
    assert not lunch.contains(sh(2026, 3, 9, 23, 0))
    assert lunch.next_allowed(sh(2026, 3, 9, 13, 0)) == sh(2026, 3, 9, 14, 0)


def test_quiet_hours_are_configured_from_text() -> None:
    assert QuietHours.model_validate({"start": "22:00", "end": "07:30"}).end == time(7, 30)


# --- properties ----------------------------------------------------------------------------------
starts = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)
)
amounts = st.integers(min_value=0, max_value=40 * 1440).map(lambda m: m / 1440)


@settings(max_examples=200, deadline=None)
@given(start=starts, n=amounts, m=amounts)
def test_adding_working_days_is_monotonic_and_lands_on_a_working_day(
    shipped: WorkingCalendar, start: datetime, n: float, m: float
) -> None:
    low, high = sorted((n, m))
    due_low, due_high = shipped.add_working_days(start, low), shipped.add_working_days(start, high)
    assert start <= due_low <= due_high
    assert shipped.is_working_day(due_high.astimezone(SHANGHAI).date())
    assert shipped.working_time_between(start, due_high) == timedelta(minutes=round(high * 1440))


@settings(max_examples=100, deadline=None)
@given(start=starts, n=st.integers(min_value=0, max_value=30))
def test_one_more_working_day_is_one_more_working_day_later(
    shipped: WorkingCalendar, start: datetime, n: int
) -> None:
    due = shipped.add_working_days(start, n)
    assert shipped.add_working_days(start, n + 1) == shipped.add_working_days(due, 1)


@settings(max_examples=300, deadline=None)
@given(start=starts, n=st.integers(min_value=0, max_value=30))
def test_whole_working_days_agree_with_the_day_by_day_walk(
    shipped: WorkingCalendar, start: datetime, n: int
) -> None:
    """The shortcut for whole days from inside a working day (the common case: every
    dispatch's deadlines) gives exactly what counting day by day gives."""
    local = start.astimezone(SHANGHAI).replace(tzinfo=None)
    assert shipped.add_working_days(start, n) == shipped._walk(local, n)


def test_the_remembered_working_days_follow_the_calendar_they_belong_to() -> None:
    """Two calendars (a reload with a new holiday) never share a remembered answer."""
    plain = WorkingCalendar.from_data({2026: YearData(year=2026)})
    holiday = WorkingCalendar.from_data(
        {2026: YearData(year=2026, holidays={date(2026, 3, 10): "测试假日"})}
    )
    monday = sh(2026, 3, 9, 10, 0)
    assert plain.add_working_days(monday, 1) == sh(2026, 3, 10, 10, 0)
    assert holiday.add_working_days(monday, 1) == sh(2026, 3, 11, 10, 0)
    assert plain.add_working_days(monday, 1) == sh(2026, 3, 10, 10, 0)
