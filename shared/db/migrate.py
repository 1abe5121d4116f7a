"""Alembic migrations for every schema, run by ``shaobao migrate``.

Each service keeps its own migration history in ``services/<name>/migrations`` with its
version table in its own schema; the ``platform`` schema lives in
``shared/db/migrations``. Migrations run in schema order so a fresh database comes up
in one call.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

from shared.db.dsn import engine_url
from shared.settings import ROOT

SCHEMAS: dict[str, Path] = {
    "platform": ROOT / "shared" / "db" / "migrations",
    "intake": ROOT / "services" / "intake" / "migrations",
    "router": ROOT / "services" / "router" / "migrations",
    "escalation": ROOT / "services" / "escalation" / "migrations",
    "notifier": ROOT / "services" / "notifier" / "migrations",
}


def alembic_config(schema: str, database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(SCHEMAS[schema]))
    cfg.set_main_option("sqlalchemy.url", engine_url(database_url))
    cfg.attributes["schema"] = schema
    return cfg


def migrate_all(database_url: str, revision: str = "head") -> None:
    """Upgrade every schema to ``revision`` (blocking; call from a thread inside a loop)."""
    for schema in SCHEMAS:
        command.upgrade(alembic_config(schema, database_url), revision)


async def migrate_all_async(database_url: str) -> None:
    await asyncio.to_thread(migrate_all, database_url)
