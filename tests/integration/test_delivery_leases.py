"""Two notifiers whose clocks disagree never both hold one delivery's lease.

With the test clock, ``shaobao clock advance 35m`` reaches each replica on its next
refresh; in the moment between, one replica is 35 minutes behind the other. A lease the
late replica took by its own clock (``now + 8 s``) looked long lapsed to the other, which
claimed the delivery too, and both sent it (the replicas test, after its clock advance).
Hosts' clocks drift the same way in production. Leases are taken and judged by the
database's clock (``shared.clock.database_now``), so the second claim finds nothing.

Its own database: the clock is moved here, and no running notifier may claim its rows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import insert, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from services.notifier.deps import NotifierSettings
from services.notifier.tables import deliveries, endpoints
from services.notifier.worker import LEASE_TIMEOUTS, DeliveryWorker
from shared.clock import OffsetClock
from shared.db.engine import make_engine
from shared.db.migrate import migrate_all_async
from shared.db.platform import test_clock
from shared.ids import new_id
from shared.security.pii import PiiVault
from tests.support.stack import StackUnderTest, create_stack, drop_stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def lease_engine() -> AsyncIterator[AsyncEngine]:
    own = await create_stack("lease")
    await migrate_all_async(own.database_url)
    engine = make_engine(own.settings(service_name="notifier", test_clock=True), pool_size=4)
    try:
        yield engine
    finally:
        await engine.dispose()
        await drop_stack(own)


def _worker(engine: AsyncEngine, clock: OffsetClock, stack: StackUnderTest) -> DeliveryWorker:
    settings = stack.settings(service_name="notifier", test_clock=True)
    runtime: Any = SimpleNamespace(settings=settings, engine=engine, clock=clock)
    return DeliveryWorker(
        runtime, PiiVault(settings.pii_key.get_secret_value()), NotifierSettings()
    )


async def _set_offset(engine: AsyncEngine, seconds: float) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            pg_insert(test_clock)
            .values(id=1, offset_seconds=seconds, enabled=True)
            .on_conflict_do_update(
                index_elements=[test_clock.c.id], set_={"offset_seconds": seconds}
            )
        )


async def _due_deliveries(engine: AsyncEngine, owner: str, n: int) -> set[str]:
    due = datetime.now(UTC) - timedelta(minutes=1)  # due by either replica's clock
    fixed = {"event_type": "case.escalated", "owner_id": owner, "body": b"{}"}
    rows = [
        fixed
        | {"delivery_id": new_id(), "event_id": new_id(), "status": "pending"}
        | {"next_attempt_at": due, "created_at": due}
        for _ in range(n)
    ]
    async with engine.begin() as conn:
        await conn.execute(
            insert(endpoints).values(owner_id=owner, url="https://hooks.example/x", secret_enc=b"")
        )
        await conn.execute(insert(deliveries), rows)
    return {str(r["delivery_id"]) for r in rows}


async def test_a_lease_taken_by_a_replica_behind_the_clock_holds_for_one_ahead_of_it(
    lease_engine: AsyncEngine, stack: StackUnderTest
) -> None:
    engine = lease_engine
    await _set_offset(engine, 0)
    behind, ahead = OffsetClock(engine), OffsetClock(engine)
    await behind.refresh()
    await _set_offset(engine, 35 * 60)  # `shaobao clock advance 35m`
    await ahead.refresh()  # `behind` has not refreshed yet: 35 minutes behind `ahead`
    assert ahead.now() - behind.now() > timedelta(minutes=34)

    owner = f"wy-{new_id().hex[:8]}"
    made = await _due_deliveries(engine, owner, 3)
    late, early = _worker(engine, behind, stack), _worker(engine, ahead, stack)

    first = await late._claim()
    assert {str(r.delivery_id) for r in first} == made
    assert await early._claim() == [], "a replica ahead of the other claimed its leased rows"

    # The lease runs by the database's clock, test offset included: 4 webhook timeouts
    # from the claim, whichever replica's clock was behind.
    lease = first[0].locked_until - datetime.now(UTC) - timedelta(minutes=35)
    assert timedelta(0) < lease <= timedelta(seconds=late.timeout * LEASE_TIMEOUTS)

    # Once the lease has lapsed (by the database), the other replica takes the rows.
    async with engine.begin() as conn:
        await conn.execute(
            update(deliveries)
            .where(deliveries.c.owner_id == owner)
            .values(locked_until=first[0].locked_until - timedelta(hours=1))
        )
    assert {str(r.delivery_id) for r in await early._claim()} == made
