"""The HA fault suite's servers: a 3-node RabbitMQ cluster and a pg_auto_failover pair.

Driven through ``deploy/stack.sh cluster`` with a state dir, ports and node names of their
own (never the development cluster's nor the shared servers'), so the suite may kill them.
"""

from __future__ import annotations

import os
import signal
from collections import Counter
from typing import Any
from urllib.parse import quote

import httpx

from tests.faults.harness import SHARED_DEV_PORTS, OwnServers
from tests.support.stack import MGMT_AUTH, Servers, StackUnderTest

STATE_DIR = os.environ.get("SHAOBAO_FAULTS_HA_STATE_DIR", "/var/lib/shaobao-faults-ha")
BASE = 28600  # below the ephemeral range, like the single-node suite's 26xxx
PREFIX = "shaobao-faults-ha"
MQ_NODES = (1, 2, 3)
PG_NODES = (1, 2)


def amqp_base(n: int) -> str:
    return f"amqp://shaobao:shaobao@127.0.0.1:{BASE + n}"


def mgmt(n: int) -> str:
    return f"http://127.0.0.1:{BASE + 10 + n}"


def node_no(name: str) -> int:
    """``shaobao-faults-ha2@localhost`` → 2."""
    return int(name.split("@")[0].removeprefix(PREFIX))


class HaServers(OwnServers):
    """The cluster and the pair, with what the faults need: which node leads, kill, start."""

    def __init__(self) -> None:
        ports = {BASE + d + n for d in (0, 10, 20, 30) for n in MQ_NODES}
        ports |= {BASE + 40 + n for n in (0, *PG_NODES)}
        assert not ports & SHARED_DEV_PORTS
        assert STATE_DIR.rstrip("/") not in ("/var/lib/shaobao", "/var/lib/shaobao-faults")
        self.env = {
            "SHAOBAO_STATE_DIR": STATE_DIR,
            "SHAOBAO_HA_BASE_PORT": str(BASE),
            "SHAOBAO_HA_NODE_PREFIX": PREFIX,
        }
        pg_hosts = ",".join(f"127.0.0.1:{BASE + 40 + n}" for n in PG_NODES)
        self.servers = Servers(
            pg_admin=f"postgresql://shaobao:shaobao@{pg_hosts}/shaobao"
            "?target_session_attrs=read-write",
            amqp_base=amqp_base(1),
            mgmt=mgmt(1),
            more_amqp_bases=tuple(amqp_base(n) for n in MQ_NODES[1:]),
        )

    async def run(self, *args: str, timeout: float = 240) -> str:
        """``bash deploy/stack.sh cluster ARGS`` against the suite's cluster."""
        return await super().run("cluster", *args, timeout=timeout)

    async def restore(self, stack: StackUnderTest) -> None:
        """Every node up again (``cluster up`` is idempotent)."""
        await self.run("up")

    # -- RabbitMQ ----------------------------------------------------------------------

    async def _mgmt_get(self, path: str) -> Any:
        """A management API answer from the first node that gives one."""
        error: Exception = RuntimeError("no node")
        async with httpx.AsyncClient(auth=MGMT_AUTH, timeout=5) as http:
            for n in MQ_NODES:
                try:
                    r = await http.get(f"{mgmt(n)}{path}")
                    r.raise_for_status()
                    return r.json()
                except httpx.HTTPError as exc:
                    error = exc
        raise error

    async def queues(self, vhost: str) -> list[dict[str, Any]]:
        return [
            q
            for q in await self._mgmt_get(f"/api/queues/{quote_vhost(vhost)}")
            if q["name"].startswith("shaobao.")
        ]

    async def leader(self, vhost: str) -> int:
        """The node leading most of the services' queues."""
        leaders = Counter(q.get("leader", "") for q in await self.queues(vhost))
        return node_no(leaders.most_common(1)[0][0])

    async def connection_nodes(self, vhost: str) -> Counter[int]:
        """How many of the services' connections each node holds."""
        conns = await self._mgmt_get(f"/api/vhosts/{quote_vhost(vhost)}/connections")
        return Counter(node_no(c["node"]) for c in conns)

    async def fully_replicated(self, vhost: str) -> bool:
        """Every service queue has all three members online (a node is back in)."""
        qs = await self.queues(vhost)
        return bool(qs) and all(len(q.get("online", [])) == len(MQ_NODES) for q in qs)

    async def mq_signal(self, n: int, sig: signal.Signals) -> None:
        pid = int((await self.run("mq-pid", str(n))).strip())
        os.kill(pid, sig)

    async def mq_start(self, n: int) -> None:
        await self.run("mq-start", str(n))

    # -- PostgreSQL --------------------------------------------------------------------

    async def pg_primary(self) -> int:
        return int((await self.run("pg-primary")).strip())

    async def pg_kill_node(self, n: int) -> None:
        """SIGKILL every process of data node ``n`` (keeper and postgres): a dead machine."""
        pgid = int((await self.run("pg-pgid", str(n))).strip())
        os.killpg(pgid, signal.SIGKILL)

    async def pg_start(self, n: int) -> None:
        await self.run("pg-start", str(n))

    async def pg_settled(self) -> bool:
        """A primary and a synchronous standby again, each in its assigned state."""
        try:
            await self.run("pg-ready", timeout=20)
        except RuntimeError:
            return False
        return True


def quote_vhost(vhost: str) -> str:
    return quote(vhost, safe="")
