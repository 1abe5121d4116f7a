"""A batch answer's rows: recorded, replayed, or that case's own failure (the rest stand)."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from fastapi import HTTPException

from services.intake.api.cases import item_result
from services.intake.records import Submitted

AT = datetime(2026, 12, 1, tzinfo=UTC)


def test_a_recorded_case_is_201_and_a_replay_200() -> None:
    new = Submitted(uuid4(), "received", True, AT)
    again = Submitted(uuid4(), "dispatched", False, AT)
    linked = Submitted(uuid4(), "received", False, AT, duplicate_of=uuid4())
    assert item_result(0, (new, True)).status_code == 201
    assert item_result(1, (again, False)).status_code == 200
    row = item_result(2, (linked, True))  # another number for an open case: an event staged
    assert row.status_code == 201 and row.case is not None and row.case.duplicate_of is not None


def test_a_case_that_failed_alone_gets_its_own_row_with_a_chinese_reason() -> None:
    row = item_result(7, RuntimeError("boom"))
    assert (row.index, row.status_code, row.case) == (7, 500, None)
    assert row.detail is not None and "第 7 件未能受理" in row.detail
    refused = item_result(3, HTTPException(409, "状态冲突"))
    assert (refused.status_code, refused.detail) == (409, "状态冲突")
