"""A poison message lands in the dead-letter queue with its reason, nothing else stalls,
and an operator can list and replay dead letters with the CLI."""

from __future__ import annotations

import re
import subprocess
import sys

import aio_pika
import httpx
import pytest

from shared.auth.keys import Role
from tests.e2e.conftest import Keys
from tests.e2e.test_first_case import ELEVATOR
from tests.support.services import ROOT, ServiceProcs
from tests.support.stack import StackUnderTest
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


def shaobao(stack: StackUnderTest, *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "shared.cli.main", *args],
        cwd=ROOT, env=stack.env(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return out.stdout


async def _dlq_depth(stack: StackUnderTest, name: str) -> int:
    conn = await aio_pika.connect(stack.amqp_url)
    async with conn:
        queue = await (await conn.channel()).declare_queue(name, passive=True)
        return int(queue.declaration_result.message_count or 0)


async def test_a_poison_message_is_dead_lettered_with_its_reason_and_cases_keep_flowing(
    services: ServiceProcs, keys: Keys, stack: StackUnderTest
) -> None:
    before = await _dlq_depth(stack, "shaobao.router.dlq")
    conn = await aio_pika.connect(stack.amqp_url)
    async with conn:
        channel = await conn.channel(publisher_confirms=True)
        exchange = await channel.get_exchange("shaobao.events")
        await exchange.publish(
            aio_pika.Message(
                b'{"id": "not-a-uuid"}', message_id="poison-e2e", type="case.received"
            ),
            routing_key="case.received",
        )

    async def dead() -> bool:
        return await _dlq_depth(stack, "shaobao.router.dlq") > before

    await eventually(dead, what="poison in router DLQ")
    listing = shaobao(stack, "dlq", "list", "router")
    assert "poison-e2e" in listing and "malformed" in listing

    channel_key = await keys.make(Role.CHANNEL, channel="hotline_12345")
    ops = await keys.make(Role.OPS)
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.post(
            f"{services.url('intake')}/v1/cases", json=ELEVATOR, headers=channel_key
        )
        case_id = r.json()["case_id"]

        async def dispatched() -> bool:
            c = await http.get(f"{services.url('router')}/v1/cases/{case_id}", headers=ops)
            return c.status_code == 200 and bool(c.json()["dispatches"])

        await eventually(dispatched, what="a good case still dispatched")

    replayed = re.search(r"已重放 (\d+)", shaobao(stack, "dlq", "replay", "router"))
    assert replayed and int(replayed.group(1)) >= 1

    async def back_again() -> bool:
        return "poison-e2e" in shaobao(stack, "dlq", "list", "router")

    await eventually(back_again, what="replayed poison refused again with its reason")


async def test_ops_lists_dead_letters_over_http_and_only_admin_replays_them(
    services: ServiceProcs, keys: Keys, stack: StackUnderTest
) -> None:
    """What the workbench's ops page uses: the same list and replay as the command line."""
    conn = await aio_pika.connect(stack.amqp_url)
    async with conn:
        channel = await conn.channel(publisher_confirms=True)
        exchange = await channel.get_exchange("shaobao.events")
        await exchange.publish(
            aio_pika.Message(b'{"id": 1}', message_id="poison-http", type="case.received"),
            routing_key="case.received",
        )
    ops, admin = await keys.make(Role.OPS), await keys.make(Role.ADMIN)
    dept = await keys.make(Role.DEPARTMENT, owner="wy-xingfu")
    url = f"{services.url('router')}/v1/dead-letters/router"
    async with httpx.AsyncClient(timeout=30) as http:

        async def listed() -> list[dict[str, object]] | None:
            r = await http.get(url, headers=ops)
            assert r.status_code == 200, r.text
            rows = [d for d in r.json() if d["message_id"] == "poison-http"]
            return rows or None

        rows = await eventually(listed, what="the poison listed over HTTP")
        assert rows[0]["event_type"] == "case.received" and "malformed" in str(rows[0]["reason"])
        assert (await http.get(url, headers=dept)).status_code == 403
        unknown = await http.get(f"{services.url('router')}/v1/dead-letters/nobody", headers=ops)
        assert unknown.status_code == 422
        refused = await http.post(f"{url}/replay", json={"limit": 5}, headers=ops)
        assert refused.status_code == 403
        bad = await http.post(f"{url}/replay", json={"limit": 0}, headers=admin)
        assert bad.status_code == 422
        done = await http.post(f"{url}/replay", json={"limit": 100}, headers=admin)
        assert done.status_code == 200 and done.json()["replayed"] >= 1
        # replayed, refused again by the consumer: back in the queue with its reason
        await eventually(listed, what="the replayed poison dead-lettered again")
