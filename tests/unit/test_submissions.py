"""Intake's group commit sheds load when too many submissions wait (no I/O)."""

from __future__ import annotations

import asyncio

import pytest

from services.intake.schemas import CaseCreate
from services.intake.submissions import Overloaded, SubmissionBatcher

BODY = CaseCreate.model_validate(
    {
        "external_id": "X-1",
        "category": "property.elevator",
        "title": "电梯停运",
        "description": "3 号楼电梯停运",
        "location": {
            "district": "d01",
            "street": "s01",
            "community": "c01",
            "grid": "g01",
            "compound": "k01",
        },
    }
)


async def test_past_the_waiting_bound_a_submission_is_refused_at_once() -> None:
    batcher = SubmissionBatcher(runtime=None, max_waiting=2, workers=0)  # nothing drains
    waiting = [
        asyncio.ensure_future(batcher.submit(channel="hotline_12345", body=BODY, idempotency_key=k))
        for k in ("a", "b")
    ]
    await asyncio.sleep(0)  # both are queued
    with pytest.raises(Overloaded):
        await batcher.submit(channel="hotline_12345", body=BODY, idempotency_key="c")
    for w in waiting:
        w.cancel()
    await batcher.stop()
