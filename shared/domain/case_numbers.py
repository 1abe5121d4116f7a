"""The case number a person can say on the phone (诉求编号), e.g. ``SB20261207-000123``.

``SB`` + the day the case was received (Asia/Shanghai) + its sequence number that day, six
digits at least (more past 999,999). Unique and never reused: intake draws the sequence from
one PostgreSQL sequence (see services/intake/case_numbers.py), so concurrent submissions and
replicas never share a number; a number drawn by a transaction that rolled back is skipped.
"""

from __future__ import annotations

import re
from datetime import date

CASE_NUMBER = re.compile(r"^SB(\d{8})-(\d{6,})$")


def case_number(day: date, sequence: int) -> str:
    if sequence < 1:
        raise ValueError(f"sequence must be positive: {sequence}")
    return f"SB{day:%Y%m%d}-{sequence:06d}"


def is_case_number(text: str) -> bool:
    return CASE_NUMBER.match(text) is not None
