"""Engine construction: one async engine per process, made by the composition root."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from shared.settings import Settings


def make_engine(settings: Settings, *, pool_size: int | None = None) -> AsyncEngine:
    """An asyncpg engine; ``pool_pre_ping`` so a restarted PostgreSQL is survived."""
    return create_async_engine(
        settings.database_url,
        pool_size=pool_size or settings.db_pool_size,
        max_overflow=5,
        pool_pre_ping=True,
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


def json_dumps(value: Any) -> str:
    """How every JSON column value is encoded (the engine's serializer; array inserts)."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
