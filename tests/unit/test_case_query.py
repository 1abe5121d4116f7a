"""Finding cases, the pure parts: filter parsing, the cursor, the backlog's bands."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import pytest

from shared.domain.calendar import SHANGHAI, WorkingCalendar, YearData
from shared.domain.case_query import (
    Cursor,
    FilterError,
    Sort,
    band_of,
    escape_like,
    overdue_since,
    parse_filter,
)


def test_a_cursor_round_trips_and_is_opaque() -> None:
    c = Cursor(Sort.DEADLINE, datetime(2026, 12, 7, 8, 30, tzinfo=UTC), uuid4())
    text = c.encode()
    assert "deadline" not in text and "=" not in text
    assert Cursor.decode(text, Sort.DEADLINE) == c


@pytest.mark.parametrize("text", ["", "x", "not-base64!", "e30", "eyJzIjoiZGVhZGxpbmUifQ"])
def test_a_malformed_cursor_is_refused_in_chinese(text: str) -> None:
    with pytest.raises(FilterError, match="游标无效"):
        Cursor.decode(text or "=", Sort.RECEIVED)


@pytest.mark.parametrize(
    "query",
    [{"received_to": "9999-12-31"}, {"closed_to": "9999-12-31"}, {"limit": "\u00b2"}],
)
def test_edge_values_are_refused_with_a_reason_not_raised(query: dict[str, str]) -> None:
    with pytest.raises(FilterError):
        parse_filter(query)


def test_a_cursor_from_year_one_is_refused() -> None:
    c = Cursor(Sort.RECEIVED, datetime(1, 1, 1, 1, tzinfo=SHANGHAI), uuid4()).encode()
    with pytest.raises(FilterError, match="游标无效"):
        Cursor.decode(c, Sort.RECEIVED)


def test_a_cursor_of_another_sort_is_refused() -> None:
    c = Cursor(Sort.RECEIVED, datetime(2026, 12, 7, tzinfo=UTC), uuid4()).encode()
    with pytest.raises(FilterError, match="排序"):
        Cursor.decode(c, Sort.DEADLINE)


def test_filters_parse_from_a_query_string() -> None:
    f = parse_filter({"state": "dispatched,closed", "overdue": "true", "category": "property.*",
                      "received_from": "2026-12-01", "received_to": "2026-12-01",
                      "q": "  电梯  停运 ", "limit": "20", "sort": "deadline"})  # fmt: skip
    assert f.states == ("dispatched", "closed") and f.overdue is True
    assert f.category == "property" and f.text == "电梯 停运" and f.limit == 20
    assert f.received.start == datetime(2026, 12, 1, tzinfo=SHANGHAI)
    assert f.received.end == datetime(2026, 12, 2, tzinfo=SHANGHAI)  # the whole day
    assert f.sort is Sort.DEADLINE


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ({"state": "open"}, "未知的诉求状态"),
        ({"received_to": "yesterday"}, "不是有效日期"),
        ({"closed_from": "2026-12-02", "closed_to": "2026-12-01T00:00:00+08:00"}, "须晚于"),
        ({"limit": "201"}, "limit"),
        ({"tier": "huge"}, "tier"),
        ({"whistle_open": "perhaps"}, "true 或 false"),
        ({"category": "../x"}, "事项分类无效"),
        ({"q": "电" * 101}, "过长"),
        ({"sort": "name"}, "sort"),
        ({"foo": "1"}, "未知的筛选条件"),
        ({"received_from": "1900-01-01"}, "超出范围"),
    ],
)
def test_bad_filters_are_refused_with_a_chinese_reason(query: dict[str, str], reason: str) -> None:
    with pytest.raises(FilterError, match=reason):
        parse_filter(query)


def test_like_wildcards_in_a_search_are_literal() -> None:
    assert escape_like("50%_a\\b") == "50\\%\\_a\\\\b"


def test_bands_by_working_days_overdue() -> None:
    assert [band_of(d) for d in (0, 0.5, 1, 4.9, 5, 14, 15, 200)] == [
        "lt_1", "lt_1", "1_5", "1_5", "5_15", "5_15", "gt_15", "gt_15",
    ]  # fmt: skip


def test_overdue_since_skips_the_weekend() -> None:
    calendar = WorkingCalendar.from_data({2026: YearData(year=2026)})
    monday_noon = datetime(2026, 12, 7, 12, tzinfo=SHANGHAI)
    one = overdue_since(calendar, monday_noon, 1)
    assert one == datetime(2026, 12, 4, 12, tzinfo=SHANGHAI)  # Friday noon, not Sunday
    assert calendar.working_time_between(one, monday_noon) == timedelta(days=1)
    assert overdue_since(calendar, monday_noon, 0) == monday_noon
    assert date(2026, 12, 7).weekday() == 0
