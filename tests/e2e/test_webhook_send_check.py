"""The notifier checks a webhook's address again right before sending, not only when it was
registered: a stored URL that now points at the cloud-metadata address (here a row edited
in the database; a name that resolves there after a DNS change takes the same path, see
tests/unit/test_webhook_hosts.py) is never contacted; the attempt fails at once with the
reason, and the delivery is not retried."""

from __future__ import annotations

import secrets
from typing import Any

import asyncpg
import httpx
import pytest

from shared.auth.keys import Role
from tests.e2e.conftest import Keys
from tests.e2e.intake_helpers import XINGFU, case
from tests.support.receiver import WebhookReceiver
from tests.support.services import ServiceProcs
from tests.support.stack import StackUnderTest
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e
CHANNEL = "open311"  # no other test registers its callback


async def test_a_stored_url_that_now_points_at_the_metadata_address_is_refused_at_send_time(
    services: ServiceProcs, keys: Keys, stack: StackUnderTest
) -> None:
    channel, ops = await keys.make(Role.CHANNEL, channel=CHANNEL), await keys.make(Role.OPS)
    notifier = services.url("notifier")
    conn = await asyncpg.connect(stack.raw_database_url)
    try:
        async with (
            WebhookReceiver(secrets.token_urlsafe(24)) as receiver,
            httpx.AsyncClient(timeout=10) as http,
        ):
            hook = {"url": receiver.url, "secret": receiver.secret}
            r = await http.put(
                f"{notifier}/v1/channel-callbacks/{CHANNEL}", json=hook, headers=channel
            )
            assert r.status_code == 200, r.text
            await conn.execute(
                "UPDATE notifier.endpoints SET url = 'http://169.254.169.254/latest/meta-data/' "
                "WHERE owner_id = $1",
                f"channel:{CHANNEL}",
            )
            body = case("public.streetlight", f"路灯不亮 {secrets.token_hex(3)}", XINGFU)
            r = await http.post(f"{services.url('intake')}/v1/cases", json=body, headers=channel)
            assert r.status_code == 201, r.text
            case_id = r.json()["case_id"]

            async def refused() -> dict[str, Any] | None:
                r = await http.get(
                    f"{notifier}/v1/deliveries", params={"case_id": case_id}, headers=ops
                )
                mine = [d for d in r.json() if d["owner_id"] == f"channel:{CHANNEL}"]
                done = [d for d in mine if d["status"] == "failed" and d["attempt_log"]]
                return done[0] if done else None

            failed = await eventually(refused, what="the callback refused at send time")
            assert receiver.accepted == []
        (attempt,) = failed["attempt_log"]
        assert attempt["status_code"] is None
        assert attempt["error"].startswith("不允许链路本地或云元数据地址 169.254.169.254")
        assert failed["attempts"] == 1, "a refused address is not retried"
    finally:
        await conn.execute(
            "DELETE FROM notifier.endpoints WHERE owner_id = $1", f"channel:{CHANNEL}"
        )
        await conn.close()
