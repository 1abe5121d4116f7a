"""Durations as data: ``15m``, ``24h``, ``3d``, ``2w``, ``5wd``, or ``{working_days: 5}``.

A :class:`Duration` holds exactly one positive unit. Minutes, hours and days are
wall-clock time (``3d`` is 72 hours whatever the calendar says; ``2w`` is shorthand for
``14d`` and prints so); working days are counted by
:class:`shared.domain.calendar.WorkingCalendar` and may be fractional (``0.5wd``).

``parse_advance`` reads the argument of ``shaobao clock advance`` (``90m``, ``3d``, ``2w``):
wall-clock only, since moving the test clock needs no calendar.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

_UNITS = {"m": "minutes", "h": "hours", "d": "days", "wd": "working_days"}
_SHORT = re.compile(r"^(\d+(?:\.\d+)?)\s*(m|h|d|w|wd)$")
_FORMS = "15m / 24h / 3d / 2w / 5wd / 0.5wd"


def _short_form(text: str) -> dict[str, int | float]:
    """``"5wd"`` → ``{"working_days": 5}``; a clear ValueError for anything else."""
    match = _SHORT.match(text.strip().lower())
    if not match:
        raise ValueError(f"时长「{text}」无法识别，应写成 {_FORMS} (unrecognised duration)")
    number, unit = match.groups()
    if unit == "w":
        unit, number = "d", str(float(number) * 7)
    value = float(number)
    if unit != "wd":
        if not value.is_integer():
            raise ValueError(f"时长「{text}」：只有工作日可带小数 (only wd may be fractional)")
        return {_UNITS[unit]: int(value)}
    return {"working_days": int(value) if value.is_integer() else value}


class Duration(BaseModel):
    """Exactly one positive unit of minutes, hours, days (calendar) or working days."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    minutes: int = Field(0, ge=0)
    hours: int = Field(0, ge=0)
    days: int = Field(0, ge=0)
    working_days: float = Field(0, ge=0, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, data: Any) -> Any:
        return _short_form(data) if isinstance(data, str) else data

    @model_validator(mode="after")
    def _exactly_one_unit(self) -> Duration:
        if sum(1 for value in self._amounts().values() if value) != 1:
            raise ValueError("时长须恰有一个正的单位 (exactly one positive unit)")
        return self

    @classmethod
    def parse(cls, text: str) -> Duration:
        """The short form; raises ValueError saying which forms are accepted."""
        return cls(**_short_form(text))

    def _amounts(self) -> dict[str, int | float]:
        return {unit: getattr(self, unit) for unit in _UNITS.values()}

    @property
    def unit(self) -> str:
        """``minutes``, ``hours``, ``days`` or ``working_days``."""
        return next(unit for unit, value in self._amounts().items() if value)

    @property
    def amount(self) -> int | float:
        """The value of :attr:`unit`: an int, except for fractional working days."""
        value = getattr(self, self.unit)
        return int(value) if float(value).is_integer() else float(value)

    def as_timedelta(self) -> timedelta | None:
        """The fixed length, or None for working days (they need the calendar)."""
        return None if self.unit == "working_days" else timedelta(**{self.unit: self.amount})

    def __str__(self) -> str:
        short = next(s for s, unit in _UNITS.items() if unit == self.unit)
        return f"{self.amount!r}{short}"


def parse_advance(text: str) -> timedelta:
    """How far to move the test clock: ``90m``, ``24h``, ``3d`` or ``2w`` (wall-clock, > 0)."""
    fields = _short_form(text)
    if "working_days" in fields:
        raise ValueError(f"「{text}」：测试时钟只按自然时间前移，请用 m / h / d / w (no wd here)")
    unit, value = next(iter(fields.items()))
    try:
        delta = timedelta(**{unit: value})
    except OverflowError as exc:
        raise ValueError(f"「{text}」：前移量过大 (too large)") from exc
    if delta <= timedelta(0):
        raise ValueError(f"「{text}」：前移量须为正 (must be positive)")
    return delta
