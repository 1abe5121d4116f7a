"""The foundation path: a hotline case travels intake → router → notifier → department."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest

from shared.auth.keys import Role
from tests.e2e.conftest import Keys
from tests.support.receiver import WebhookReceiver
from tests.support.services import ServiceProcs
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

ELEVATOR = {
    "category": "property.elevator",
    "title": "3号楼电梯停运",
    "description": "电梯停运两天，老人无法下楼。",
    "location": {
        "district": "d01",
        "street": "s01",
        "community": "c01",
        "grid": "g01",
        "compound": "k01",
    },
    "urgency": "urgent",
}


def with_petitioner(body: dict[str, Any]) -> dict[str, Any]:
    """A fresh petitioner per case, so unrelated test cases are never linked as repeats."""
    phone = f"139{secrets.randbelow(10**8):08d}"
    return body | {"petitioner": {"name": "王女士", "phone": phone}}


async def register_all_endpoints(
    http: httpx.AsyncClient,
    services: ServiceProcs,
    admin: dict[str, str],
    receiver: WebhookReceiver,
) -> list[dict[str, Any]]:
    owners = (await http.get(f"{services.url('router')}/v1/owners", headers=admin)).json()
    for o in owners:
        resp = await http.put(
            f"{services.url('notifier')}/v1/endpoints/{o['id']}",
            headers=admin,
            json={"url": receiver.url, "secret": receiver.secret},
        )
        assert resp.status_code == 200, resp.text
    return owners


async def test_hotline_case_is_dispatched_delivered_signed_and_acknowledged(
    services: ServiceProcs, keys: Keys
) -> None:
    channel = await keys.make(Role.CHANNEL, channel="hotline_12345")
    admin = await keys.make(Role.ADMIN)
    ops = await keys.make(Role.OPS)
    async with (
        WebhookReceiver(secrets.token_urlsafe(24)) as receiver,
        httpx.AsyncClient(timeout=10) as http,
    ):
        await register_all_endpoints(http, services, admin, receiver)
        body = with_petitioner(ELEVATOR) | {"external_id": f"12345-{secrets.token_hex(4)}"}
        resp = await http.post(f"{services.url('intake')}/v1/cases", json=body, headers=channel)
        assert resp.status_code == 201, resp.text
        case_id = resp.json()["case_id"]

        async def dispatched() -> dict[str, Any] | None:
            r = await http.get(f"{services.url('router')}/v1/cases/{case_id}", headers=ops)
            return r.json() if r.status_code == 200 and r.json()["dispatches"] else None

        case = await eventually(dispatched, what="case dispatched")
        lead = next(d for d in case["dispatches"] if d["role"] == "lead")
        await eventually(
            lambda: _async(
                [
                    m
                    for m in receiver.accepted
                    if m.get("dispatch", {}).get("dispatch_id") == lead["dispatch_id"]
                ]
            ),
            what="signed webhook delivery",
        )
        assert receiver.rejected_signatures == 0

        dept = await keys.make(Role.DEPARTMENT, owner=lead["owner_id"])
        ack = await http.post(
            f"{services.url('router')}/v1/dispatches/{lead['dispatch_id']}/acknowledge",
            headers=dept,
        )
        assert ack.status_code == 200, ack.text
        assert ack.json()["state"] == "acknowledged"

        async def full_timeline() -> list[dict[str, Any]] | None:
            r = await http.get(f"{services.url('router')}/v1/cases/{case_id}", headers=ops)
            actions = [t["action"] for t in r.json()["timeline"]]
            return r.json()["timeline"] if {"delivered", "acknowledged"} <= set(actions) else None

        timeline = await eventually(full_timeline, what="delivered and acknowledged in timeline")
        actions = [t["action"] for t in timeline]
        assert actions[:3] == ["received", "triaged", "dispatched"]
        assert actions.index("acknowledged") > actions.index("dispatched")
        assert all(t["at"] and t["actor"] for t in timeline)
        assert (
            next(t for t in timeline if t["action"] == "received")["actor"]
            == "channel:hotline_12345"
        )
        assert (
            next(t for t in timeline if t["action"] == "acknowledged")["actor"]
            == f"department:{lead['owner_id']}"
        )

        async def channel_sees_acknowledged() -> bool:
            r = await http.get(f"{services.url('intake')}/v1/cases/{case_id}", headers=channel)
            return r.json()["status"] == "acknowledged"

        await eventually(channel_sees_acknowledged, what="intake status acknowledged")


async def test_acknowledging_twice_answers_the_same_and_other_owners_get_404(
    services: ServiceProcs, keys: Keys
) -> None:
    channel = await keys.make(Role.CHANNEL, channel="wechat")
    ops = await keys.make(Role.OPS)
    async with httpx.AsyncClient(timeout=10) as http:
        resp = await http.post(f"{services.url('intake')}/v1/cases", json=ELEVATOR, headers=channel)
        case_id = resp.json()["case_id"]

        async def lead() -> dict[str, Any] | None:
            r = await http.get(f"{services.url('router')}/v1/cases/{case_id}", headers=ops)
            ds = r.json()["dispatches"] if r.status_code == 200 else []
            return next((d for d in ds if d["role"] == "lead"), None)

        d = await eventually(lead, what="dispatch")
        url = f"{services.url('router')}/v1/dispatches/{d['dispatch_id']}/acknowledge"
        stranger = await keys.make(Role.DEPARTMENT, owner="someone-else")
        assert (await http.post(url, headers=stranger)).status_code == 404
        mine = await keys.make(Role.DEPARTMENT, owner=d["owner_id"])
        first = await http.post(url, headers=mine)
        second = await http.post(url, headers=mine)
        assert first.status_code == second.status_code == 200
        assert first.json()["acknowledged_at"] == second.json()["acknowledged_at"]
        assert (await http.post(url, headers=channel)).status_code == 403


async def _async(value: Any) -> Any:
    return value
