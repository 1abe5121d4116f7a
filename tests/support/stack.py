"""Real PostgreSQL and RabbitMQ for tests: a fresh database and vhost per test session.

The servers are the ones ``deploy/stack.sh up`` runs (``scripts/test.sh`` starts them).
Each session gets its own database and vhost, so tests never see the development data
and can run beside a running system. The server addresses default to the environment
(``SHAOBAO_TEST_PG_ADMIN_URL``, ``SHAOBAO_TEST_AMQP_BASE``, ``SHAOBAO_MQ_MANAGEMENT_URL``)
read at import; a suite with servers of its own (tests/faults) passes a :class:`Servers`.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import asyncpg
import httpx

from shared.settings import Settings

PG_ADMIN = os.environ.get(
    "SHAOBAO_TEST_PG_ADMIN_URL", "postgresql://shaobao:shaobao@127.0.0.1:55432/shaobao"
)
AMQP_BASE = os.environ.get("SHAOBAO_TEST_AMQP_BASE", "amqp://shaobao:shaobao@127.0.0.1:55672")
MGMT = os.environ.get("SHAOBAO_MQ_MANAGEMENT_URL", "http://127.0.0.1:55673")
MGMT_AUTH = ("shaobao", "shaobao")


@dataclass(frozen=True)
class Servers:
    """Where the PostgreSQL and RabbitMQ servers of a test session are."""

    pg_admin: str = PG_ADMIN  # postgresql://user:password@host:port/database[?options]
    amqp_base: str = AMQP_BASE  # amqp://user:password@host:port (no vhost)
    mgmt: str = MGMT  # the management API's base URL
    # The other nodes of a RabbitMQ cluster, like amqp_base (tests/faults/ha).
    more_amqp_bases: tuple[str, ...] = ()


DEFAULT_SERVERS = Servers()


@dataclass(frozen=True)
class StackUnderTest:
    database: str
    vhost: str
    servers: Servers = DEFAULT_SERVERS

    @property
    def database_url(self) -> str:
        return self.raw_database_url.replace("postgresql://", "postgresql+asyncpg://", 1)

    @property
    def raw_database_url(self) -> str:
        """The admin URL with the stack's database (its options, e.g. several hosts and
        ``target_session_attrs``, kept)."""
        base, _, options = self.servers.pg_admin.partition("?")
        url = base.rsplit("/", 1)[0] + f"/{self.database}"
        return f"{url}?{options}" if options else url

    @property
    def amqp_url(self) -> str:
        """The first broker node's URL (for a connection of the test's own)."""
        return f"{self.servers.amqp_base}/{quote(self.vhost, safe='')}"

    @property
    def amqp_urls(self) -> str:
        """Every broker node's URL, comma-separated: the services' ``SHAOBAO_AMQP_URL``."""
        bases = (self.servers.amqp_base, *self.servers.more_amqp_bases)
        return ",".join(f"{b}/{quote(self.vhost, safe='')}" for b in bases)

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        """Rows of one query on the stack's database (a connection of its own)."""
        conn = await asyncpg.connect(self.raw_database_url)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    async def fetchval(self, sql: str, *args: Any) -> Any:
        """The first value of one query on the stack's database."""
        rows = await self.fetch(sql, *args)
        return rows[0][0] if rows else None

    def settings(self, **overrides: object) -> Settings:
        base = {
            "environment": "test",
            "database_url": self.database_url,
            "amqp_url": self.amqp_urls,
            "mq_management_url": self.servers.mgmt,
            "log_json": True,
            # An app run in the test process (its lifespan) leaves pytest's heap and
            # collector alone; the services' own processes (env()) settle theirs.
            "gc_freeze": False,
            "gc_gen0_threshold": 0,
        }
        return Settings(**(base | overrides))  # type: ignore[arg-type]

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            SHAOBAO_ENVIRONMENT="test",
            SHAOBAO_DATABASE_URL=self.database_url,
            SHAOBAO_AMQP_URL=self.amqp_urls,
            SHAOBAO_MQ_MANAGEMENT_URL=self.servers.mgmt,
        )
        env.update(extra)
        return env


async def create_stack(prefix: str = "t", servers: Servers = DEFAULT_SERVERS) -> StackUnderTest:
    name = f"shaobao_{prefix}_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(servers.pg_admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    async with httpx.AsyncClient(base_url=servers.mgmt, auth=MGMT_AUTH, timeout=10) as http:
        (await http.put(f"/api/vhosts/{name}")).raise_for_status()
        perms = {"configure": ".*", "write": ".*", "read": ".*"}
        (await http.put(f"/api/permissions/{name}/shaobao", json=perms)).raise_for_status()
    return StackUnderTest(database=name, vhost=name, servers=servers)


async def drop_stack(stack: StackUnderTest) -> None:
    mgmt = stack.servers.mgmt
    async with httpx.AsyncClient(base_url=mgmt, auth=MGMT_AUTH, timeout=10) as http:
        await http.delete(f"/api/vhosts/{stack.vhost}")
    conn = await asyncpg.connect(stack.servers.pg_admin)
    try:
        for attempt in range(20):
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{stack.database}" WITH (FORCE)')
                return
            except asyncpg.InsufficientPrivilegeError:
                # An autovacuum worker in the database (PostgreSQL 15's FORCE refuses to
                # end it for a non-superuser); it is gone in a moment.
                if attempt == 19:
                    raise
                await asyncio.sleep(0.25)
    finally:
        await conn.close()
