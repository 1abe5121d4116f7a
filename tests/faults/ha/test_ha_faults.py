"""Nothing lost when a broker node or the primary database dies (issue 24).

The same phases as the single-node suite (:func:`tests.faults.test_faults.run_phase`: a
steady load, the fault, the audit of every accepted case), on a 3-node RabbitMQ cluster
and a pg_auto_failover pair. The services know every node and are never restarted.

Time to recover, here: from the fault until a case first received after it has been
accepted, dispatched and delivered to its endpoint, with every service ready (timed from
just before the fault's look-ups and signal; the case must arrive after the signal). A killed
node is started again afterwards (a supervisor's job), outside that time: the point is
that nothing waits for it. CI runs the two phases not marked ``full_only``;
``bash scripts/faults.sh --ha`` runs all five.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest

from shared.db.dsn import asyncpg_dsn
from tests.faults.conftest import RESULTS, System
from tests.faults.ha.cluster import HaServers
from tests.faults.ha.conftest import full_only
from tests.faults.harness import all_ready
from tests.faults.test_faults import Phase, _pids, answers_note, run_phase
from tests.support.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

RECOVERY_TIMEOUT = 90.0
# A case received after the fault, delivered to its endpoint: events flow again end to end.
FLOWING = (
    "SELECT 1 FROM notifier.deliveries d JOIN router.dispatches r USING (dispatch_id)"
    " JOIN intake.cases c ON c.case_id = r.case_id"
    " WHERE c.received_at > to_timestamp($1) AND d.status = 'delivered' LIMIT 1"
)


async def _flowing(system: System, since_wall: float) -> bool:
    """Events flow again and every service is ready (a connection of its own each time:
    during a failover there is no primary to keep one to)."""
    try:
        conn = await asyncpg.connect(asyncpg_dsn(system.stack.raw_database_url), timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    try:
        if await conn.fetchval(FLOWING, since_wall, timeout=3) is None:
            return False
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    finally:
        conn.terminate()
    return await all_ready(system.urls)


async def _recovered(system: System, started: float, since_wall: float) -> float:
    await eventually(
        lambda: _flowing(system, since_wall),
        timeout=RECOVERY_TIMEOUT,
        interval=0.25,
        what="events flowing again after the fault",
    )
    return time.monotonic() - started


async def ha_phase(
    system: System,
    db: asyncpg.Pool,
    name: str,
    apply: Callable[[], Awaitable[str]],
    *,
    heal: Callable[[], Awaitable[None]],
) -> Phase:
    """``apply`` the fault (it says what it hit), measure the recovery while ``heal`` runs
    (a paused node resumed, a killed one started again), then audit as every phase does."""
    measured: dict[str, Any] = {}

    async def fault() -> None:
        # Timed from before ``apply`` (its look-ups count against us), but only a case
        # received after it returns (the node already stopped or killed) shows recovery:
        # one that slipped through before the signal landed is no proof.
        started = time.monotonic()
        measured["hit"] = await apply()
        recovery = asyncio.create_task(_recovered(system, started, time.time()))
        await heal()
        measured["recovered_s"] = await recovery

    pids = _pids(system)
    phase = await run_phase(system, db, name, fault, notes=answers_note)
    result = RESULTS[-1]
    result.recover_seconds = measured["recovered_s"]
    result.notes = f"{measured['hit']}; {result.notes}"
    result.detail["drained_after_heal_s"] = phase.recover_seconds
    assert _pids(system) == pids, "a service restarted"
    assert phase.load.answers["500"] == 0
    assert phase.load.missing_retry_after == 0
    assert phase.watch.missing_retry_after == 0
    return phase


# ---------------------------------------------------------------------------- RabbitMQ


def _servers(system: System) -> HaServers:
    assert isinstance(system.servers, HaServers)
    return system.servers


async def _kill_broker_node(
    system: System, db: asyncpg.Pool, name: str, pick: Callable[[], Awaitable[int]], what: str
) -> None:
    servers = _servers(system)
    vhost = system.stack.vhost
    killed: list[int] = []

    async def apply() -> str:
        n = await pick()
        held = dict(await servers.connection_nodes(vhost))
        await servers.mq_signal(n, signal.SIGKILL)
        killed.append(n)
        return f"SIGKILL of node {n} ({what}); services' connections per node before: {held}"

    async def heal() -> None:
        await asyncio.sleep(5.0)  # down a while, as before a supervisor starts it again
        await servers.mq_start(killed[0])
        await eventually(lambda: servers.fully_replicated(vhost), timeout=120, interval=0.5)

    await ha_phase(system, db, name, apply, heal=heal)


async def test_sigkill_of_the_broker_node_leading_the_queues_loses_nothing(
    ha_system: System, ha_db: asyncpg.Pool
) -> None:
    servers = _servers(ha_system)
    await _kill_broker_node(
        ha_system,
        ha_db,
        "RabbitMQ leader node SIGKILL",
        lambda: servers.leader(ha_system.stack.vhost),
        "the queues' leader",
    )


@full_only
async def test_sigkill_of_another_broker_node_loses_nothing(
    ha_system: System, ha_db: asyncpg.Pool
) -> None:
    servers = _servers(ha_system)

    async def busiest_other() -> int:
        """The node holding most of the services' connections now, not the leader's."""
        leader = await servers.leader(ha_system.stack.vhost)
        held = await servers.connection_nodes(ha_system.stack.vhost)
        others = [n for n, _ in held.most_common() if n != leader]
        return others[0] if others else leader % 3 + 1

    await _kill_broker_node(
        ha_system,
        ha_db,
        "RabbitMQ other node SIGKILL",
        busiest_other,
        "the services' connections, not the leader",
    )


# ---------------------------------------------------------------------------- PostgreSQL


async def test_sigkill_of_the_postgresql_primary_fails_over_and_loses_nothing(
    ha_system: System, ha_db: asyncpg.Pool
) -> None:
    servers = _servers(ha_system)
    killed: list[int] = []

    async def apply() -> str:
        n = await servers.pg_primary()
        await servers.pg_kill_node(n)
        killed.append(n)
        return f"SIGKILL of primary node {n} (pg_autoctl keeper and postmaster)"

    async def heal() -> None:
        await eventually(
            lambda: _other_primary(servers, killed[0]), timeout=90, interval=0.5, what="failover"
        )
        await servers.pg_start(killed[0])  # rejoins as the standby (pg_rewind)
        await eventually(servers.pg_settled, timeout=120, interval=1.0, what="pair settled")

    phase = await ha_phase(ha_system, ha_db, "PostgreSQL primary SIGKILL", apply, heal=heal)
    assert phase.load.answers["503"] > 0, "intake never noticed the primary was gone"


@full_only
async def test_a_planned_switchover_loses_nothing(ha_system: System, ha_db: asyncpg.Pool) -> None:
    servers = _servers(ha_system)
    before: list[int] = []

    async def apply() -> str:
        before.append(await servers.pg_primary())
        await servers.run("pg-switchover")
        return f"pg_autoctl perform switchover (primary was node {before[0]})"

    async def heal() -> None:
        await eventually(servers.pg_settled, timeout=120, interval=1.0, what="pair settled")

    await ha_phase(ha_system, ha_db, "PostgreSQL switchover", apply, heal=heal)
    assert await servers.pg_primary() != before[0]


async def _other_primary(servers: HaServers, old: int) -> bool:
    try:
        return await servers.pg_primary() != old
    except (RuntimeError, ValueError):
        return False


# Last: were it to fail again, it could leave the services without a working broker
# connection for the phases after it.
@full_only
async def test_a_broker_node_paused_for_20_s_loses_nothing(
    ha_system: System, ha_db: asyncpg.Pool
) -> None:
    servers = _servers(ha_system)
    vhost = ha_system.stack.vhost
    paused: list[int] = []

    async def apply() -> str:
        held = await servers.connection_nodes(vhost)
        n = held.most_common(1)[0][0]
        await servers.mq_signal(n, signal.SIGSTOP)
        paused.append(n)
        return f"SIGSTOP of node {n} for 20 s (it held {held[n]} of the services' connections)"

    async def heal() -> None:
        try:
            await asyncio.sleep(20.0)
        finally:
            await servers.mq_signal(paused[0], signal.SIGCONT)
        await eventually(lambda: servers.fully_replicated(vhost), timeout=120, interval=0.5)

    await ha_phase(ha_system, ha_db, "RabbitMQ node SIGSTOP 20 s", apply, heal=heal)
