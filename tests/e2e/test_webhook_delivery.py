"""Webhook deliveries: retried on 5xx until accepted once, signed, and logged per attempt."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest

from shared.auth.keys import Role
from tests.e2e.conftest import Keys
from tests.e2e.test_first_case import ELEVATOR
from tests.support.receiver import WebhookReceiver
from tests.support.services import ServiceProcs
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


async def test_a_receiver_failing_three_times_gets_exactly_one_accepted_signed_delivery(
    services: ServiceProcs, keys: Keys
) -> None:
    admin = await keys.make(Role.ADMIN)
    ops = await keys.make(Role.OPS)
    channel = await keys.make(Role.CHANNEL, channel="wechat")
    async with (
        WebhookReceiver(secrets.token_urlsafe(24)) as receiver,
        httpx.AsyncClient(timeout=10) as http,
    ):
        for owner in ("wy-xingfu", "wb-anda"):
            r = await http.put(
                f"{services.url('notifier')}/v1/endpoints/{owner}",
                headers=admin,
                json={"url": receiver.url, "secret": receiver.secret},
            )
            assert r.status_code == 200
        receiver.fail_next = 3
        resp = await http.post(f"{services.url('intake')}/v1/cases", json=ELEVATOR, headers=channel)
        case_id = resp.json()["case_id"]

        async def both_delivered() -> list[dict[str, Any]] | None:
            r = await http.get(
                f"{services.url('notifier')}/v1/deliveries",
                params={"case_id": case_id},
                headers=ops,
            )
            rows = r.json()
            return (
                rows if len(rows) == 2 and all(d["status"] == "delivered" for d in rows) else None
            )

        deliveries = await eventually(both_delivered, timeout=60, what="both deliveries accepted")
    mine = [m for m in receiver.accepted if m.get("case_id") == case_id]
    assert sorted(m["dispatch"]["owner_id"] for m in mine) == ["wb-anda", "wy-xingfu"]
    assert receiver.rejected_signatures == 0
    attempts = sum(d["attempts"] for d in deliveries)
    assert attempts == 2 + 3  # three 503s spread over the two deliveries, then one success each
    failed_attempts = [a for d in deliveries for a in d["attempt_log"] if a["status_code"] == 503]
    assert len(failed_attempts) == 3


async def test_a_webhook_to_a_metadata_address_is_refused_with_the_reason(
    services: ServiceProcs, keys: Keys
) -> None:
    admin = await keys.make(Role.ADMIN)
    url = f"{services.url('notifier')}/v1/endpoints/d01-cgw"
    body = {"url": "http://169.254.169.254/latest/meta-data", "secret": "s" * 20}
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.put(url, json=body, headers=admin)
    assert r.status_code == 422
    assert "169.254.169.254" in r.json()["detail"]
