"""The whole case reaches the people who handle it (issue: the complaint text reached no one).

As the property firm holding the dispatch: the webhook it receives and the case it opens
carry the case number, the description and the address, with times in Beijing time; another
owner cannot open the case (404, as for a case that does not exist). Two hundred
submissions at once get two hundred distinct case numbers.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from datetime import datetime
from typing import Any

import httpx
import pytest

from shared.auth.keys import Role
from shared.domain.calendar import SHANGHAI
from tests.e2e.conftest import Keys
from tests.e2e.test_first_case import ELEVATOR, register_all_endpoints, with_petitioner
from tests.support.receiver import WebhookReceiver
from tests.support.services import ServiceProcs
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e
NUMBER = re.compile(r"SB\d{8}-\d{6}")
BEIJING_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}")


async def test_the_holder_reads_number_description_and_address_others_get_404(
    services: ServiceProcs, keys: Keys
) -> None:
    channel = await keys.make(Role.CHANNEL, channel="hotline_12345")
    admin = await keys.make(Role.ADMIN)
    address = "幸福小区3号楼2单元501"
    body = with_petitioner(ELEVATOR) | {
        "external_id": f"12345-{secrets.token_hex(4)}",
        "address": address,
        "description": "3号楼电梯停运两天，80岁老人无法下楼。",
    }
    async with (
        WebhookReceiver(secrets.token_urlsafe(24)) as receiver,
        httpx.AsyncClient(timeout=10) as http,
    ):
        await register_all_endpoints(http, services, admin, receiver)
        answer = await http.post(f"{services.url('intake')}/v1/cases", json=body, headers=channel)
        assert answer.status_code == 201, answer.text
        case_id, number = answer.json()["case_id"], answer.json()["case_number"]
        assert NUMBER.fullmatch(number)
        today = datetime.now(SHANGHAI).strftime("%Y%m%d")
        assert number[2:10] == today or number[2:10] < today  # the day it was received

        async def webhook() -> dict[str, Any] | None:
            return next(
                (m for m in receiver.accepted
                 if m.get("case_id") == case_id and m.get("event") == "case.dispatched"
                 and m["dispatch"]["role"] == "lead"),
                None,
            )  # fmt: skip

        sent = await eventually(webhook, timeout=30, what="the lead's dispatch webhook")
        assert sent["case_number"] == number
        assert sent["description"] == body["description"] and sent["address"] == address
        message = sent["message"]
        assert number in message and address in message and "80岁老人" in message
        assert "UTC" not in message and len(BEIJING_TIME.findall(message)) == 2
        due = datetime.fromisoformat(sent["dispatch"]["acknowledge_due_at"])
        assert due.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") in message

        holder = await keys.make(Role.DEPARTMENT, owner=sent["dispatch"]["owner_id"])
        case = await http.get(f"{services.url('router')}/v1/cases/{case_id}", headers=holder)
        assert case.status_code == 200, case.text
        seen = case.json()
        assert (seen["case_number"], seen["description"], seen["address"]) == (
            number, body["description"], address,
        )  # fmt: skip
        assert seen["category_name"] == "电梯故障停运" and seen["state_label"]

        other = await keys.make(Role.DEPARTMENT, owner="d01-sthj")
        refused = await http.get(f"{services.url('router')}/v1/cases/{case_id}", headers=other)
        missing = await http.get(
            f"{services.url('router')}/v1/cases/01a20000-0000-7000-8000-000000000000",
            headers=other,
        )
        assert refused.status_code == missing.status_code == 404
        assert refused.json() == missing.json()

        mine = await http.get(f"{services.url('intake')}/v1/cases/{case_id}", headers=channel)
        assert (mine.json()["case_number"], mine.json()["address"]) == (number, address)


async def test_two_hundred_concurrent_submissions_get_two_hundred_distinct_numbers(
    services: ServiceProcs, keys: Keys
) -> None:
    channel = await keys.make(Role.CHANNEL, channel="wechat")
    limits = httpx.Limits(max_connections=200)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:

        async def submit(i: int) -> str:
            body = ELEVATOR | {"external_id": f"n-{secrets.token_hex(6)}", "title": f"事项{i}"}
            r = await http.post(f"{services.url('intake')}/v1/cases", json=body, headers=channel)
            assert r.status_code == 201, r.text
            return str(r.json()["case_number"])

        numbers = await asyncio.gather(*(submit(i) for i in range(200)))
    assert len(set(numbers)) == 200 and all(NUMBER.fullmatch(n) for n in numbers)
