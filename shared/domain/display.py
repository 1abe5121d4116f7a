"""How times and case numbers are written in texts people read (messages, reasons, pages).

People read Beijing time (Asia/Shanghai), ``2026-12-08 18:40``, never UTC; machine fields
stay ISO 8601 with their offset. A case is named by its case number (诉求编号); a case stored
before numbers existed is named by the start of its id.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from shared.domain.calendar import SHANGHAI


def beijing(at: datetime) -> str:
    """``2026-12-08 18:40`` in Beijing time (an aware datetime; naive ones are refused)."""
    if at.tzinfo is None:
        raise ValueError("naive datetime: cannot show it in Beijing time")
    return at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def case_label(case_number: str | None, case_id: UUID | str) -> str:
    return case_number or str(case_id)[:8]
