"""Real PostgreSQL and RabbitMQ for tests: a fresh database and vhost per test session.

The servers are the ones ``deploy/stack.sh up`` runs (``scripts/test.sh`` starts them).
Each session gets its own database and vhost, so tests never see the development data
and can run beside a running system.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
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
class StackUnderTest:
    database: str
    vhost: str

    @property
    def database_url(self) -> str:
        return (
            PG_ADMIN.replace("postgresql://", "postgresql+asyncpg://").rsplit("/", 1)[0]
            + f"/{self.database}"
        )

    @property
    def raw_database_url(self) -> str:
        return PG_ADMIN.rsplit("/", 1)[0] + f"/{self.database}"

    @property
    def amqp_url(self) -> str:
        return f"{AMQP_BASE}/{quote(self.vhost, safe='')}"

    def settings(self, **overrides: object) -> Settings:
        base = {
            "environment": "test",
            "database_url": self.database_url,
            "amqp_url": self.amqp_url,
            "mq_management_url": MGMT,
            "log_json": True,
        }
        return Settings(**(base | overrides))  # type: ignore[arg-type]

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            SHAOBAO_ENVIRONMENT="test",
            SHAOBAO_DATABASE_URL=self.database_url,
            SHAOBAO_AMQP_URL=self.amqp_url,
            SHAOBAO_MQ_MANAGEMENT_URL=MGMT,
        )
        env.update(extra)
        return env


async def create_stack(prefix: str = "t") -> StackUnderTest:
    name = f"shaobao_{prefix}_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    async with httpx.AsyncClient(base_url=MGMT, auth=MGMT_AUTH, timeout=10) as http:
        (await http.put(f"/api/vhosts/{name}")).raise_for_status()
        perms = {"configure": ".*", "write": ".*", "read": ".*"}
        (await http.put(f"/api/permissions/{name}/shaobao", json=perms)).raise_for_status()
    return StackUnderTest(database=name, vhost=name)


async def drop_stack(stack: StackUnderTest) -> None:
    async with httpx.AsyncClient(base_url=MGMT, auth=MGMT_AUTH, timeout=10) as http:
        await http.delete(f"/api/vhosts/{stack.vhost}")
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{stack.database}" WITH (FORCE)')
    finally:
        await conn.close()
