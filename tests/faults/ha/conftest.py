"""The HA fault suite's system: the cluster, the pair, and the four services on both.

Fixtures of their own names (``ha_*``), so a run of the whole fault suite builds the
single-node system and this one side by side, each once. The services get every broker
node (``SHAOBAO_AMQP_URL``, comma-separated) and a multi-host database URL with
``target_session_attrs=read-write``, exactly as an operator would configure them.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from shared.db.migrate import migrate_all_async
from tests.faults.conftest import KEEP, System, running_system
from tests.faults.ha.cluster import HaServers
from tests.support.stack import StackUnderTest, create_stack, drop_stack

# The phases CI skips (bash scripts/faults.sh --ha runs them all).
FULL = os.environ.get("SHAOBAO_FAULTS_HA_FULL") == "1"
full_only = pytest.mark.skipif(
    not FULL, reason="a longer HA phase: bash scripts/faults.sh --ha (SHAOBAO_FAULTS_HA_FULL=1)"
)


@pytest.fixture(scope="session")
async def ha_servers(one_run_at_a_time: None) -> AsyncIterator[HaServers]:
    servers = HaServers()
    await servers.run("up")
    yield servers
    if not KEEP:
        await servers.run("down")


@pytest.fixture(scope="session")
async def ha_stack(ha_servers: HaServers) -> AsyncIterator[StackUnderTest]:
    s = await create_stack("faultsha", ha_servers.servers)
    await migrate_all_async(s.database_url)
    yield s
    await ha_servers.restore(s)  # a failed fault may have left a node down
    if not KEEP:
        await drop_stack(s)


@pytest.fixture
async def ha_db(ha_stack: StackUnderTest) -> AsyncIterator[asyncpg.Pool]:
    """A pool per test: its first connection is made after the fault, to the primary."""
    pool = await asyncpg.create_pool(ha_stack.raw_database_url, min_size=0, max_size=2)
    yield pool
    await pool.close()


@pytest.fixture(scope="session")
async def ha_system(
    ha_stack: StackUnderTest, ha_servers: HaServers, fault_logs: Path
) -> AsyncIterator[System]:
    logs = fault_logs / "ha"
    logs.mkdir(exist_ok=True)
    async with running_system(ha_stack, ha_servers, logs) as running:
        yield running
