"""The body of every ``migrations/env.py``: online, async, one schema each."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool


def run(target_metadata: MetaData) -> None:
    schema = target_metadata.schema
    assert schema, "every service metadata names its schema"
    url = context.config.get_main_option("sqlalchemy.url")
    assert url

    # Indexes a migration makes in SQL because autogenerate cannot compare them (trigram
    # GIN, expressions, operator classes, partial): the service lists them by name.
    unmanaged = target_metadata.info.get("unmanaged_indexes", frozenset())

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if type_ == "index" and name in unmanaged:
            return False
        return type_ != "table" or getattr(obj, "schema", None) == schema

    def do_run(conn: Connection) -> None:
        context.configure(
            connection=conn,
            target_metadata=target_metadata,
            version_table_schema=schema,
            include_schemas=True,
            include_object=include,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def go() -> None:
        engine = create_async_engine(url, poolclass=NullPool)
        async with engine.begin() as conn:
            await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('shaobao-migrate'))"))
            await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            await conn.run_sync(do_run)
        await engine.dispose()

    asyncio.run(go())
