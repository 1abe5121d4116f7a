"""The working-day calendar (工作日历) and quiet hours (免打扰时段).

Data, not code: ``config/calendar/<year>.yaml`` lists a year's statutory holidays and its
调休 working weekends as the State Council publishes them; an operator adds a year without
a code change. :meth:`WorkingCalendar.load` refuses a bad file with a
:class:`~shared.domain.errors.ConfigError` naming file, line and reason.

Semantics. All local arithmetic is in Asia/Shanghai (UTC+8 without daylight saving since
1991, so every local day is 24 hours). Inputs must be aware datetimes (naive ones raise
ValueError); every datetime returned is aware and in UTC.

* **Working day.** A date listed as 调休 workday is one; else a listed holiday is not; else
  Monday–Friday are. A date in a year no file covers counts weekends only: its year is added
  to ``uncovered_years_seen`` and ``on_uncovered(year)`` is called, once per year per
  calendar (the service logs a warning and raises a metric; the domain stays pure).
* **Working time.** Every instant of a working day (00:00–24:00 local) is working time and
  no instant of any other day is, so one working day is 24 h of working time and fractions
  make sense (``0.5`` working days = 12 h). Amounts are counted in whole minutes.
* **add_working_days(t, n)** is the earliest instant by which ``n`` working days of working
  time have passed since ``t``; when that is the very end (24:00) of a working day followed
  by days off, the deadline is 00:00 of the next working day instead (the same working
  time, and the deadline, and the escalation it fires, fall on a day people work). So:

  - from a working day, it is the same local time on the n-th following working day
    (Friday 16:00 + 5 before an ordinary week = next Friday 16:00; 调休 Saturdays count);
  - from a weekend or holiday, counting starts at 00:00 of the next working day: nobody
    loses time while the office was shut (Saturday 10:00 + 1 = Tuesday 00:00, the end of
    Monday; a case arriving on the second day of Spring Festival starts after it);
  - ``n = 0`` gives ``t`` itself during working time, else 00:00 of the next working day.

* **Calendar durations** (minutes, hours, days) are wall-clock: "24 h" is 24 elapsed hours
  whatever the holidays (the simple tier).
* **working_time_between(a, b)** is the working time in ``[a, b)`` (negative when
  ``b < a``); divide by ``timedelta(days=1)`` for working days, e.g. for KPIs.
* **Quiet hours** hold a reminder to a person until the window ends; they never drop it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict

from shared.domain.errors import ConfigError

SHANGHAI = ZoneInfo("Asia/Shanghai")
ONE_DAY = timedelta(days=1)
MIDNIGHT = time()
MINUTES_PER_DAY = 24 * 60
SPILL = timedelta(days=7)  # how far a holiday range may reach into the neighbouring year
WEEKDAYS = "一二三四五六日"


class DurationLike(Protocol):
    """A :class:`~shared.domain.durations.Duration` (or anything with its ``unit``/``amount``)."""

    @property
    def unit(self) -> str: ...

    @property
    def amount(self) -> int | float: ...


def day_problem(year: int, day: date, kind: str, holidays: Mapping[date, str],
                workdays: Mapping[date, str]) -> str | None:  # fmt: skip
    """Why ``day`` cannot be listed as ``kind`` ("holiday"/"workday") in ``year``'s data."""
    if day.year != year and (
        abs(day.year - year) > 1 or abs(day - date(max(day.year, year), 1, 1)) > SPILL
    ):
        return f"日期 {day} 不属于 {year} 年 (file year does not match its dates)"
    if day in holidays and day in workdays:
        return f"{day} 同时列为节假日和调休上班日 (listed both as holiday and workday)"
    if kind == "workday" and day.weekday() < 5:
        return (
            f"调休上班日 {day} 是周{WEEKDAYS[day.weekday()]}，不是周末 "
            "(a make-up working day must be a Saturday or Sunday)"
        )
    return None


@dataclass(frozen=True)
class YearData:
    """One year's published arrangement: holiday and 调休 workday dates, each with its name."""

    year: int
    holidays: Mapping[date, str] = field(default_factory=dict)
    workdays: Mapping[date, str] = field(default_factory=dict)
    source: str = ""
    # True while the year's notice is not transcribed: the file then lists only what the law
    # fixes (全国年节及纪念日放假办法), without the notice's 调休, and services warn about it.
    provisional: bool = False

    def __post_init__(self) -> None:
        for kind, days in (("holiday", self.holidays), ("workday", self.workdays)):
            for day in days:
                problem = day_problem(self.year, day, kind, self.holidays, self.workdays)
                if problem:
                    raise ConfigError(problem, entry=str(self.year))


class WorkingCalendar:
    """Which days are worked, and deadlines counted in working days (see module docstring)."""

    def __init__(
        self, years: Mapping[int, YearData], *, on_uncovered: Callable[[int], None] | None = None
    ) -> None:
        self._years = dict(years)
        self._holidays: dict[date, str] = {}
        self._workdays: dict[date, str] = {}
        self._on_uncovered = on_uncovered
        self.uncovered_years_seen: set[int] = set()
        self._after: dict[tuple[date, int], date] = {}
        for year, data in sorted(self._years.items()):
            if year != data.year:
                raise ConfigError(f"键 {year} 与数据年份 {data.year} 不符 (year key mismatch)")
            clash = (data.holidays.keys() & self._workdays.keys()) | (
                data.workdays.keys() & self._holidays.keys()
            )
            if clash:
                raise ConfigError(f"{min(clash)} 在两年的数据中相互矛盾 (conflicting years)")
            self._holidays.update(data.holidays)
            self._workdays.update(data.workdays)

    @classmethod
    def from_data(
        cls, years: Mapping[int, YearData], *, on_uncovered: Callable[[int], None] | None = None
    ) -> WorkingCalendar:
        return cls(years, on_uncovered=on_uncovered)

    @classmethod
    def load(
        cls, directory: Path, *, on_uncovered: Callable[[int], None] | None = None
    ) -> WorkingCalendar:
        """Every ``*.yaml`` in ``directory``; ConfigError (file, line, reason) if one is wrong."""
        if not directory.is_dir():
            raise ConfigError(f"日历目录不存在 (calendar directory missing): {directory}")
        years: dict[int, YearData] = {}
        kinds: dict[date, tuple[str, str]] = {}
        for path in sorted(directory.glob("*.yaml")):
            data, lines = read_year_file(path)
            if data.year in years:
                raise ConfigError(
                    f"{data.year} 年已由另一文件给出 (year given twice)", file=path.name
                )
            for kind, days in (("holiday", data.holidays), ("workday", data.workdays)):
                for day in days:
                    other = kinds.setdefault(day, (kind, path.name))
                    if other[0] != kind:
                        raise ConfigError(
                            f"{day} 与 {other[1]} 矛盾 (conflicts with {other[1]})",
                            file=path.name, line=lines.get(day),
                        )  # fmt: skip
            years[data.year] = data
        return cls(years, on_uncovered=on_uncovered)

    def covers(self, year: int) -> bool:
        return year in self._years

    def coverage_warnings(self, today: date, *, horizon_days: int = 60) -> list[str]:
        """What an operator must fix before deadlines go wrong: every year from ``today``'s to
        the one ``horizon_days`` ahead that has no file, or only a provisional one."""
        last = (today + timedelta(days=horizon_days)).year
        warnings = []
        for year in range(today.year, last + 1):
            data = self._years.get(year)
            if data is None:
                warnings.append(
                    f"{year} 年工作日历缺失，时限只扣除周末；请添加 config/calendar/{year}.yaml "
                    f"(no working-day calendar for {year}: weekends only)"
                )
            elif data.provisional:
                warnings.append(
                    f"{year} 年工作日历为临时数据（仅法定假日，无调休安排）；国务院办公厅通知发布后请更新 "
                    f"config/calendar/{year}.yaml (provisional calendar for {year})"
                )
        return warnings

    def is_working_day(self, d: date) -> bool:
        if d in self._workdays:
            return True
        if d in self._holidays:
            return False
        if d.year not in self._years and d.year not in self.uncovered_years_seen:
            self.uncovered_years_seen.add(d.year)
            if self._on_uncovered is not None:
                self._on_uncovered(d.year)
        return d.weekday() < 5

    def holiday_name(self, d: date) -> str | None:
        """The 节假日 or 调休 name of ``d`` (e.g. 春节, 春节调休), if the data lists it."""
        return self._holidays.get(d) or self._workdays.get(d)

    def add_working_days(self, start: datetime, days: int | float) -> datetime:
        if not math.isfinite(days) or days < 0:
            raise ValueError(f"工作日数须为非负有限数 (working days must be >= 0): {days}")
        cursor = _local(start)
        whole = int(days)
        if whole == days and whole > 0 and cursor.time() != MIDNIGHT:
            if self.is_working_day(cursor.date()):
                # Inside a working day, n whole working days later is the same local time
                # on the n-th working day after it: what the walk gives, without walking
                # (tests/unit/test_calendar.py checks the two agree).
                after = self._working_day_after(cursor.date(), whole)
                return _utc(datetime.combine(after, cursor.time()))
        return self._walk(cursor, days)

    def _walk(self, cursor: datetime, days: int | float) -> datetime:
        """``add_working_days`` day by day from ``cursor`` (naive local time)."""
        remaining = timedelta(minutes=round(days * MINUTES_PER_DAY))
        if not self.is_working_day(cursor.date()):
            cursor = self._next_working_start(cursor.date())
        while True:
            left = datetime.combine(cursor.date() + ONE_DAY, time()) - cursor
            if remaining < left:
                return _utc(cursor + remaining)
            remaining -= left
            cursor = self._next_working_start(cursor.date())
            if not remaining:
                return _utc(cursor)

    def add(self, start: datetime, duration: DurationLike) -> datetime:
        """``start`` plus a duration: working days by this calendar, the rest wall-clock."""
        if duration.unit == "working_days":
            return self.add_working_days(start, duration.amount)
        _local(start)  # refuses a naive start
        return start.astimezone(UTC) + timedelta(**{duration.unit: duration.amount})

    def working_time_between(self, a: datetime, b: datetime) -> timedelta:
        if b < a:
            return -self.working_time_between(b, a)
        lo, hi = _local(a), _local(b)
        total = timedelta(0)
        day = lo.date()
        while day <= hi.date():
            if self.is_working_day(day):
                begin = datetime.combine(day, time())
                total += max(timedelta(0), min(hi, begin + ONE_DAY) - max(lo, begin))
            day += ONE_DAY
        return total

    def _working_day_after(self, day: date, n: int) -> date:
        """The n-th working day after ``day``; remembered (every case of a day asks it)."""
        key = (day, n)
        found = self._after.get(key)
        if found is None:
            found = day
            for _ in range(n):
                found = self._next_working_start(found).date()
            if len(self._after) >= 4096:
                self._after.clear()
            self._after[key] = found
        return found

    def _next_working_start(self, after: date) -> datetime:
        """00:00 local (naive) of the first working day after ``after``."""
        day = after + ONE_DAY
        while not self.is_working_day(day):
            day += ONE_DAY
        return datetime.combine(day, time())


class QuietHours(BaseModel):
    """A daily window (local time) in which reminders to people are held, not dropped.

    ``start > end`` crosses midnight (21:00–08:00); ``start < end`` does not (12:00–14:00);
    ``start == end`` is an empty window. ``start`` is inside the window, ``end`` is not.
    """

    model_config = ConfigDict(frozen=True)

    start: time = time(21, 0)
    end: time = time(8, 0)

    def contains(self, dt: datetime) -> bool:
        now = _local(dt).time()
        if self.start <= self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end

    def next_allowed(self, dt: datetime) -> datetime:
        """``dt`` (in UTC) outside the window; else the window's end, when the reminder goes."""
        if not self.contains(dt):
            return dt.astimezone(UTC)
        local = _local(dt)
        day = local.date() + ONE_DAY if local.time() >= self.end else local.date()
        return _utc(datetime.combine(day, self.end))


def _local(dt: datetime) -> datetime:
    """Naive Asia/Shanghai wall-clock time of an aware datetime."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"需要带时区的时间 (aware datetime required): {dt.isoformat()}")
    return dt.astimezone(SHANGHAI).replace(tzinfo=None)


def _utc(local: datetime) -> datetime:
    return local.replace(tzinfo=SHANGHAI).astimezone(UTC)


# --- reading a year file ------------------------------------------------------------------------
# The node tree (yaml.compose) rather than safe_load: every error can name its line, and a
# bad date such as 2026-02-30 is ours to report instead of a crash inside the YAML library.

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TOP_KEYS = frozenset({"year", "source", "notes", "provisional", "holidays", "workdays"})
MAX_RANGE = timedelta(days=31)


def read_year_file(path: Path) -> tuple[YearData, dict[date, int]]:
    """One ``<year>.yaml``: its data and the line listing each date."""
    file = path.name
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(f"YAML 语法错误 (syntax): {exc}", file=file, line=line) from exc
    top = _mapping(file, root, _TOP_KEYS, "文件 (file)")
    if "year" not in top:
        raise ConfigError("缺少 year (missing year)", file=file, line=1)
    year_node = top["year"]
    year = _scalar(file, year_node, "year")
    if not year.isdigit() or len(year) != 4:
        raise _fail(file, year_node, f"year「{year}」应为四位年份 (want e.g. 2026)", field="year")
    if path.stem.isdigit() and path.stem != year:
        raise _fail(file, year_node, f"year {year} 与文件名 {file} 不符 (file year mismatch)")
    days: dict[str, dict[date, str]] = {"holiday": {}, "workday": {}}
    lines: dict[date, int] = {}
    for key, kind in (("holidays", "holiday"), ("workdays", "workday")):
        for item, name, listed in _entries(file, top.get(key), key):
            for day in listed:
                problem = f"{day} 重复列出 (listed twice)" if day in days[kind] else None
                days[kind][day] = name
                problem = problem or day_problem(int(year), day, kind, *days.values())
                if problem:
                    raise _fail(file, item, problem, entry=name, field=key)
                lines[day] = item.start_mark.line + 1
    source = _scalar(file, top["source"], "source") if "source" in top else ""
    provisional = _flag(file, top["provisional"], "provisional") if "provisional" in top else False
    data = YearData(int(year), days["holiday"], days["workday"], source, provisional)
    return data, lines


def _entries(
    file: str, node: yaml.Node | None, key: str
) -> list[tuple[yaml.Node, str, list[date]]]:
    """(node, name, dates) of each ``{name, date}`` or ``{name, from, to}`` item."""
    if node is None:
        return []
    if not isinstance(node, yaml.SequenceNode):
        raise _fail(file, node, f"{key} 应为列表 (want a list)", field=key)
    out = []
    for item in node.value:
        fields = _mapping(file, item, frozenset({"name", "date", "from", "to"}), key)
        name = _scalar(file, fields["name"], "name") if "name" in fields else ""
        if not name:
            raise _fail(file, item, "缺少名称 name (missing name)", field=key)
        if "date" in fields and not {"from", "to"} & fields.keys():
            listed = [_date(file, fields["date"], name)]
        elif {"from", "to"} <= fields.keys() and "date" not in fields:
            first, last = _date(file, fields["from"], name), _date(file, fields["to"], name)
            if not first <= last <= first + MAX_RANGE:
                raise _fail(file, item, f"区间 {first}–{last} 倒置或超过31天 (bad range)",
                            entry=name)  # fmt: skip
            listed = [first + ONE_DAY * i for i in range((last - first).days + 1)]
        else:
            raise _fail(file, item, "应写 date，或 from 与 to (want date, or from and to)",
                        entry=name)  # fmt: skip
        out.append((item, name, listed))
    return out


def _flag(file: str, node: yaml.Node, field: str) -> bool:
    value = _scalar(file, node, field)
    if value not in ("true", "false"):
        raise _fail(file, node, f"{field} 应为 true 或 false (want a boolean)", field=field)
    return value == "true"


def _mapping(file: str, node: Any, allowed: frozenset[str], what: str) -> dict[str, yaml.Node]:
    if not isinstance(node, yaml.MappingNode):
        raise _fail(file, node, f"{what} 应为映射 (want a mapping)")
    out: dict[str, yaml.Node] = {}
    for key, value in node.value:
        if key.value not in allowed:
            allowed_list = ", ".join(sorted(allowed))
            raise _fail(file, key, f"未知字段 {key.value} (unknown; allowed: {allowed_list})")
        if key.value in out:
            raise _fail(file, key, f"字段 {key.value} 重复 (duplicate key)")
        out[key.value] = value
    return out


def _scalar(file: str, node: yaml.Node, field: str) -> str:
    if not isinstance(node, yaml.ScalarNode):
        raise _fail(file, node, "应为单个值 (want a scalar)", field=field)
    return str(node.value).strip()


def _date(file: str, node: yaml.Node, entry: str) -> date:
    text = _scalar(file, node, "date")
    try:
        if not _DATE.match(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise _fail(
            file, node, f"日期「{text}」无效，应为 YYYY-MM-DD (bad date)", entry=entry
        ) from None


def _fail(file: str, node: Any, problem: str, *, entry: str | None = None,
          field: str | None = None) -> ConfigError:  # fmt: skip
    line = node.start_mark.line + 1 if isinstance(node, yaml.Node) else None
    return ConfigError(problem, file=file, entry=entry, field=field, line=line)
