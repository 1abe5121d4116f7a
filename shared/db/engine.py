"""Engine construction: one async engine per process, made by the composition root."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from shared.db.dsn import engine_url
from shared.settings import Settings


def make_engine(settings: Settings, *, pool_size: int | None = None) -> AsyncEngine:
    """An asyncpg engine that survives a restarted PostgreSQL (see :func:`_closed_out`)."""
    engine = create_async_engine(
        engine_url(settings.database_url),
        pool_size=pool_size or settings.db_pool_size,
        max_overflow=5,
        pool_pre_ping=False,  # _closed_out instead, without a round trip
        pool_timeout=10,
        # JSON columns through orjson: the stdlib encoder was a visible share of each
        # service's CPU per event (timeline, policies, decisions).
        json_serializer=json_dumps,
        json_deserializer=orjson.loads,
        connect_args={
            "timeout": 5,
            "command_timeout": 30,
            "server_settings": {"application_name": settings.service_name},
        },
    )
    event.listen(engine.sync_engine, "checkout", _closed_out)
    return engine


def _closed_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """A pooled connection the server has closed is replaced at checkout.

    A restarted (or failed-over) PostgreSQL closes every backend's socket; asyncpg sees
    that and marks the connection closed, so raising here makes the pool discard it and
    check out another (SQLAlchemy's documented pessimistic check). ``pool_pre_ping`` did
    the same with ``BEGIN; ; ROLLBACK``: three round trips before every transaction.
    A connection that dies unseen (a
    silent network cut) fails its first statement instead; SQLAlchemy invalidates it and
    the caller's outage handling (503, or an event held and tried again) takes over.
    """
    driver = record.driver_connection
    if driver is not None and driver.is_closed():
        raise DisconnectionError("the server closed this pooled connection")


def json_dumps(value: Any) -> str:
    """How every JSON column value is encoded (the engine's serializer; array inserts)."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
