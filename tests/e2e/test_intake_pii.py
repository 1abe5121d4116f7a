"""No raw phone number or ID number in any RabbitMQ message body or service log line."""

from __future__ import annotations

import secrets
from typing import Any

import aio_pika
import httpx
import pytest

from shared.auth.keys import Role
from tests.e2e.conftest import Keys
from tests.e2e.intake_helpers import XINGFU, case, id_number, phone
from tests.support.services import ServiceProcs, logs_text
from tests.support.stack import StackUnderTest
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


async def test_no_raw_phone_or_id_number_in_messages_or_logs(
    services: ServiceProcs, keys: Keys, stack: StackUnderTest
) -> None:
    hotline = await keys.make(Role.CHANNEL, channel="hotline_12345")
    street = await keys.make(Role.CHANNEL, channel="grid_app")
    ops = await keys.make(Role.OPS)
    number, ident, only_id = phone(), id_number(), id_number()
    connection = await aio_pika.connect(stack.amqp_url)
    try:
        channel = await connection.channel()
        probe = await channel.declare_queue(exclusive=True, auto_delete=True)
        await probe.bind("shaobao.events", routing_key="#")
        ref = f"12345-{secrets.token_hex(4)}"
        async with httpx.AsyncClient(timeout=10) as http:
            url = f"{services.url('intake')}/v1/cases"
            who = {"name": "孙先生", "phone": f"+86 {number}", "id_number": ident}
            first = await http.post(
                url,
                json=case("property.leak", "楼顶漏水", XINGFU, petitioner=who, external_id=ref),
                headers=hotline,
            )
            assert first.status_code == 201, first.text
            linked = case(
                "property.leak",
                "楼顶漏水",
                XINGFU,
                petitioner=who,
                related_refs=[{"channel": "hotline_12345", "ref": ref}],
            )
            assert (await http.post(url, json=linked, headers=street)).status_code == 201
            anon_id = case("sanitation.garbage", "垃圾", XINGFU, petitioner={"id_number": only_id})
            assert (await http.post(url, json=anon_id, headers=street)).status_code == 201

            async def seen_by_router() -> Any:
                r = await http.get(
                    f"{services.url('router')}/v1/cases/{first.json()['case_id']}", headers=ops
                )
                actions = {t["action"] for t in r.json()["timeline"]} if r.is_success else set()
                return {"dispatched", "duplicate_linked"} <= actions

            await eventually(seen_by_router, what="dispatched and duplicate_linked")
        bodies: list[bytes] = []
        while (message := await probe.get(no_ack=True, fail=False, timeout=2)) is not None:
            bodies.append(message.body)
    finally:
        await connection.close()
    assert len(bodies) >= 3
    raw = [number, ident, only_id]
    for body in bodies:
        text = body.decode()
        assert not [v for v in raw if v in text], text[:300]
    logs = logs_text(services)
    assert logs
    assert not [v for v in raw if v in logs]
