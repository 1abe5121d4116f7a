"""Killing the router with SIGKILL mid-flight loses nothing and dispatches nothing twice."""

from __future__ import annotations

import asyncio
import signal

import asyncpg
import httpx
import pytest

from shared.auth.keys import Role
from tests.e2e.conftest import Keys
from tests.e2e.test_first_case import ELEVATOR
from tests.support.services import ServiceProcs
from tests.support.stack import StackUnderTest
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e
N = 150


async def test_router_sigkill_mid_flight_dispatches_every_case_exactly_once(
    services: ServiceProcs, keys: Keys, stack: StackUnderTest
) -> None:
    channel = await keys.make(Role.CHANNEL, channel="superior_transfer")
    async with httpx.AsyncClient(timeout=20) as http:

        async def post(i: int) -> str:
            body = ELEVATOR | {"external_id": f"CRASH-{i}-{id(services)}"}
            r = await http.post(f"{services.url('intake')}/v1/cases", json=body, headers=channel)
            assert r.status_code == 201, r.text
            return str(r.json()["case_id"])

        first = await asyncio.gather(*(post(i) for i in range(N // 2)))
        services.kill("router", signal.SIGKILL)
        second = await asyncio.gather(*(post(i) for i in range(N // 2, N)))
        services.start("router")
        await services.wait_ready("router")
    accepted = set(first) | set(second)

    conn = await asyncpg.connect(stack.raw_database_url)
    try:

        async def all_dispatched() -> bool:
            n = await conn.fetchval(
                "SELECT count(DISTINCT case_id) FROM router.dispatches WHERE case_id = ANY($1::uuid[])",
                list(accepted),
            )
            return n == len(accepted)

        await eventually(all_dispatched, timeout=60, what="every accepted case dispatched")
        per_case = await conn.fetch(
            "SELECT case_id, count(*) FILTER (WHERE role = 'lead') AS leads FROM router.dispatches "
            "WHERE case_id = ANY($1::uuid[]) GROUP BY case_id",
            list(accepted),
        )
        assert {str(r["case_id"]) for r in per_case} == accepted
        assert all(r["leads"] == 1 for r in per_case)

        async def all_delivered_once() -> bool:
            n = await conn.fetchval(
                "SELECT count(*) FROM notifier.deliveries WHERE case_id = ANY($1::uuid[]) "
                "AND event_type = 'case.dispatched'",
                list(accepted),
            )
            expected = await conn.fetchval(
                "SELECT count(*) FROM router.dispatches WHERE case_id = ANY($1::uuid[])",
                list(accepted),
            )
            return n == expected

        await eventually(all_delivered_once, timeout=60, what="one delivery per dispatch")
        dup = await conn.fetchval(
            "SELECT count(*) FROM (SELECT dispatch_id FROM notifier.deliveries "
            "WHERE case_id = ANY($1::uuid[]) AND event_type = 'case.dispatched' "
            "GROUP BY dispatch_id HAVING count(*) > 1) d",
            list(accepted),
        )
        assert dup == 0
    finally:
        await conn.close()
