"""Bad input gets a clear 4xx naming the field and changes nothing; retries make one case."""

from __future__ import annotations

import secrets

import httpx
import pytest

from shared.auth.keys import Role
from tests.e2e.conftest import Keys
from tests.e2e.test_first_case import ELEVATOR
from tests.support.services import ServiceProcs
from tests.support.stack import StackUnderTest

pytestmark = pytest.mark.e2e


async def _counts(stack: StackUnderTest) -> tuple[int, int]:
    cases = await stack.fetchval("SELECT count(*) FROM intake.cases")
    events = await stack.fetchval("SELECT count(*) FROM intake.outbox")
    return int(cases), int(events)


async def test_refused_submissions_store_and_publish_nothing(
    services: ServiceProcs, keys: Keys, stack: StackUnderTest
) -> None:
    channel = await keys.make(Role.CHANNEL, channel="hotline_12345")
    url = f"{services.url('intake')}/v1/cases"
    before = await _counts(stack)
    async with httpx.AsyncClient(timeout=10) as http:
        missing = await http.post(url, json={"title": "x"}, headers=channel)
        assert missing.status_code == 422
        fields = {e["field"] for e in missing.json()["errors"]}
        # category and location may be left to triage (issue 21); the text may not
        assert fields == {"description"}

        bad = ELEVATOR | {"category": "Not A Category!", "petitioner": {"phone": "abc"}}
        resp = await http.post(url, json=bad, headers=channel)
        assert resp.status_code == 422
        assert {"category", "petitioner.phone"} <= {e["field"] for e in resp.json()["errors"]}

        unknown = ELEVATOR | {"surprise": 1}
        assert (await http.post(url, json=unknown, headers=channel)).status_code == 422

        huge = ELEVATOR | {"description": "长" * 200_000}
        assert (await http.post(url, json=huge, headers=channel)).status_code == 413

        broken = await http.post(
            url, content=b"{not json", headers=channel | {"Content-Type": "application/json"}
        )
        assert broken.status_code == 422

        assert (await http.post(url, json=ELEVATOR)).status_code == 401
        wrong = {"Authorization": "Bearer sbk_000000000000_nope"}
        assert (await http.post(url, json=ELEVATOR, headers=wrong)).status_code == 401

        other = ELEVATOR | {"channel": "wechat"}
        mismatch = await http.post(url, json=other, headers=channel)
        assert mismatch.status_code == 403
        assert "wechat" in mismatch.json()["detail"]
    assert await _counts(stack) == before


async def test_same_external_id_or_idempotency_key_is_one_case(
    services: ServiceProcs, keys: Keys
) -> None:
    channel = await keys.make(Role.CHANNEL, channel="grid_app")
    url = f"{services.url('intake')}/v1/cases"
    body = ELEVATOR | {"external_id": f"GRID-{secrets.token_hex(4)}"}
    async with httpx.AsyncClient(timeout=10) as http:
        first = await http.post(url, json=body, headers=channel)
        again = await http.post(url, json=body, headers=channel)
        assert (first.status_code, again.status_code) == (201, 200)
        assert first.json()["case_id"] == again.json()["case_id"]
        assert again.json()["created"] is False

        idem = channel | {"Idempotency-Key": secrets.token_hex(8)}
        a = await http.post(url, json=ELEVATOR, headers=idem)
        b = await http.post(url, json=ELEVATOR, headers=idem)
        assert (a.status_code, b.status_code) == (201, 200)
        assert a.json()["case_id"] == b.json()["case_id"]


async def test_concurrent_retries_of_one_submission_make_one_case(
    services: ServiceProcs, keys: Keys, stack: StackUnderTest
) -> None:
    import asyncio

    channel = await keys.make(Role.CHANNEL, channel="walk_in")
    body = ELEVATOR | {"external_id": f"WIN-{secrets.token_hex(4)}", "received_by": "窗口-李"}
    async with httpx.AsyncClient(timeout=10) as http:
        answers = await asyncio.gather(
            *(
                http.post(f"{services.url('intake')}/v1/cases", json=body, headers=channel)
                for _ in range(8)
            )
        )
    assert {a.status_code for a in answers} <= {200, 201}
    assert len({a.json()["case_id"] for a in answers}) == 1
    assert sum(a.status_code == 201 for a in answers) == 1
