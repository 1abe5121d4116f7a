"""Finding cases: the filters a list asks for, its cursor, and the backlog's age bands.

Pure: parses what a client sends (query strings) into a :class:`CaseFilter`, refusing a
bad value with a Chinese reason (:class:`FilterError`, answered 422), and encodes the
keyset cursor of a page. The SQL that applies a filter is the router's
(``services/router/case_search.py``).

The cursor is opaque to clients (base64url of a small JSON): the sort it belongs to, the
last row's sort key and its ``case_id``. A page continues strictly after that pair, so a
case inserted meanwhile never shifts a page (keyset, not offset) and no row is read twice.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from uuid import UUID

from shared.domain.calendar import SHANGHAI, WorkingCalendar
from shared.domain.lifecycle import CaseState
from shared.domain.taxonomy import Tier, Urgency

NO_DEADLINE = datetime(9999, 12, 31, tzinfo=UTC)  # sorts after every real deadline
MAX_LIMIT = 200
DEFAULT_LIMIT = 50
MIN_TEXT = 1
MAX_TEXT = 100
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")
_CATEGORY = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)*$")
_TIERS = tuple(t.value for t in Tier)
_URGENCIES = tuple(u.value for u in Urgency)


class FilterError(ValueError):
    """A filter a client sent that cannot be applied (422 with this Chinese reason)."""


class Sort(StrEnum):
    RECEIVED = "received"  # newest first
    DEADLINE = "deadline"  # nearest open due time first; cases with none last


@dataclass(frozen=True)
class Cursor:
    sort: Sort
    key: datetime
    case_id: UUID

    def encode(self) -> str:
        raw = json.dumps({"s": self.sort.value, "k": self.key.isoformat(), "i": str(self.case_id)})
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, sort: Sort) -> Cursor:
        try:
            raw = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
            cursor = cls(Sort(raw["s"]), datetime.fromisoformat(raw["k"]), UUID(raw["i"]))
        except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
            raise FilterError("翻页游标无效 (malformed cursor)") from exc
        if cursor.key.tzinfo is None or not 2000 <= cursor.key.year <= 2100:
            raise FilterError("翻页游标无效 (malformed cursor)")
        if cursor.sort is not sort:
            raise FilterError("翻页游标与排序方式不符 (cursor belongs to another sort)")
        return cursor


@dataclass(frozen=True)
class Range:
    start: datetime | None = None  # inclusive
    end: datetime | None = None  # exclusive

    @property
    def given(self) -> bool:
        return self.start is not None or self.end is not None


@dataclass(frozen=True)
class CaseFilter:
    states: tuple[str, ...] = ()
    overdue: bool | None = None
    escalated_to_me: bool = False
    whistle_open: bool | None = None
    category: str | None = None  # a prefix: property matches property and property.*
    channel: str | None = None
    owner: str | None = None
    area: str | None = None
    received: Range = field(default_factory=Range)
    closed: Range = field(default_factory=Range)
    key_person: bool | None = None
    rebound: bool | None = None
    tier: str | None = None
    urgency: str | None = None
    text: str | None = None  # a number, part of one, or Chinese words
    phone: str | None = None
    sort: Sort = Sort.RECEIVED
    cursor: Cursor | None = None
    limit: int = DEFAULT_LIMIT


def parse_filter(query: Mapping[str, str]) -> CaseFilter:
    """The filter a query string asks for; :class:`FilterError` names the first bad one."""
    known = set(CaseFilter.__dataclass_fields__) - {"states", "received", "closed", "text"}
    names = known | {"state", "q", "received_from", "received_to", "closed_from", "closed_to"}
    unknown = sorted(set(query) - names)
    if unknown:
        raise FilterError(f"未知的筛选条件 (unknown filter): {', '.join(unknown)}")
    sort = _choice(query, "sort", tuple(s.value for s in Sort)) or Sort.RECEIVED.value
    cursor = query.get("cursor")
    return CaseFilter(
        states=_states(query.get("state")),
        overdue=_flag(query, "overdue"),
        escalated_to_me=bool(_flag(query, "escalated_to_me")),
        whistle_open=_flag(query, "whistle_open"),
        category=_category(query.get("category")),
        channel=_word(query, "channel"),
        owner=_word(query, "owner"),
        area=_word(query, "area"),
        received=_range(query, "received"),
        closed=_range(query, "closed"),
        key_person=_flag(query, "key_person"),
        rebound=_flag(query, "rebound"),
        tier=_choice(query, "tier", _TIERS),
        urgency=_choice(query, "urgency", _URGENCIES),
        text=_text(query.get("q")),
        phone=_word(query, "phone"),
        sort=Sort(sort),
        cursor=Cursor.decode(cursor, Sort(sort)) if cursor else None,
        limit=_limit(query.get("limit")),
    )


def _states(given: str | None) -> tuple[str, ...]:
    if not given:
        return ()
    states = tuple(s.strip() for s in given.split(",") if s.strip())
    known = {s.value for s in CaseState}
    bad = [s for s in states if s not in known]
    if bad:
        raise FilterError(f"未知的诉求状态 (unknown state): {', '.join(bad)}")
    return states


def _flag(query: Mapping[str, str], name: str) -> bool | None:
    given = query.get(name)
    if given is None or given == "":
        return None
    if given.lower() in _TRUE:
        return True
    if given.lower() in _FALSE:
        return False
    raise FilterError(f"{name} 只能是 true 或 false (must be true or false)")


def _choice(query: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    given = query.get(name) or None
    if given is not None and given not in allowed:
        raise FilterError(f"{name} 取值无效，可选 {' / '.join(allowed)} (bad {name})")
    return given


def _category(given: str | None) -> str | None:
    if not given:
        return None
    prefix = given.removesuffix(".*")
    if not _CATEGORY.match(prefix):
        raise FilterError("事项分类无效，例如 property 或 property.* (bad category)")
    return prefix


def _word(query: Mapping[str, str], name: str) -> str | None:
    given = (query.get(name) or "").strip()
    if len(given) > MAX_TEXT:
        raise FilterError(f"{name} 过长 (too long)")
    return given or None


def _text(given: str | None) -> str | None:
    text = " ".join((given or "").split())
    if len(text) > MAX_TEXT:
        raise FilterError(f"搜索内容过长，最多 {MAX_TEXT} 字 (search text too long)")
    return text or None


def _limit(given: str | None) -> int:
    if not given:
        return DEFAULT_LIMIT
    if not (given.isascii() and given.isdigit()) or not 1 <= int(given) <= MAX_LIMIT:
        raise FilterError(f"limit 须为 1 到 {MAX_LIMIT} 的整数 (bad limit)")
    return int(given)


def _range(query: Mapping[str, str], name: str) -> Range:
    start = _moment(query, f"{name}_from", end=False)
    end = _moment(query, f"{name}_to", end=True)
    if start is not None and end is not None and end <= start:
        raise FilterError(f"{name}_to 须晚于 {name}_from (empty range)")
    return Range(start, end)


def _moment(query: Mapping[str, str], name: str, *, end: bool) -> datetime | None:
    """A date (a Beijing day; ``_to`` includes that whole day) or an ISO time (naive =
    Beijing)."""
    given = query.get(name)
    if not given:
        return None
    try:
        if len(given) == 10:
            day = date.fromisoformat(given)
            at = datetime.combine(day + timedelta(days=1) if end else day, time(), SHANGHAI)
        else:
            at = datetime.fromisoformat(given)
    except (ValueError, OverflowError) as exc:  # 9999-12-31 + 1 day overflows
        raise FilterError(f"{name} 不是有效日期，例如 2026-12-01 (bad date)") from exc
    if not 2000 <= at.year <= 2100:
        raise FilterError(f"{name} 超出范围 (date out of range)")
    return at if at.tzinfo else at.replace(tzinfo=SHANGHAI)


def searchable(*parts: str | None) -> str:
    """The text a case is searched by (its numbers first, then its words)."""
    return " ".join(p for p in parts if p)


def escape_like(text: str) -> str:
    """``text`` as a literal inside a LIKE pattern (``\\`` is the escape character)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# Backlog (积案) age bands: whole working days past the due time.
BANDS: tuple[tuple[str, float, float], ...] = (
    ("lt_1", 0, 1),
    ("1_5", 1, 5),
    ("5_15", 5, 15),
    ("gt_15", 15, float("inf")),
)
BAND_CN = {"lt_1": "超期不足1个工作日", "1_5": "超期1-5个工作日", "5_15": "超期5-15个工作日",
           "gt_15": "超期15个工作日以上"}  # fmt: skip


def overdue_since(calendar: WorkingCalendar, now: datetime, days: float) -> datetime:
    """The due time a case is exactly ``days`` working days overdue by at ``now``: due
    times before it are more overdue (working time only grows on working days, so the
    point lies on one and is found by walking back whole days, then within the day)."""
    if days <= 0:
        return now
    back = 0
    while True:
        back += 1
        start = now - timedelta(days=back)
        past = calendar.working_time_between(start, now)
        if past >= timedelta(days=days):
            return start + (past - timedelta(days=days))
        if back > 3660:  # a calendar with no working day: nothing is that overdue
            return start


def band_of(working_days_overdue: float) -> str:
    """The backlog band of a case ``working_days_overdue`` past its nearest due time."""
    for name, low, high in BANDS:
        if low <= working_days_overdue < high:
            return name
    return BANDS[0][0]
