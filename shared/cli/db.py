"""A short-lived engine for one CLI command."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db.engine import make_engine
from shared.settings import Settings


@asynccontextmanager
async def transaction(settings: Settings) -> AsyncIterator[AsyncConnection]:
    engine = make_engine(settings.for_service("cli"), pool_size=1)
    try:
        async with engine.begin() as conn:
            yield conn
    finally:
        await engine.dispose()
