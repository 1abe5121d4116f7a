"""What an outage looks like: the errors that mean the database or the broker is away.

One classification for the web layer (503 with Retry-After instead of 500) and the
consumers (hold the message and try again in-process instead of spending a delivery).
"""

from __future__ import annotations

import aiormq.exceptions
import asyncpg
from aio_pika.exceptions import ChannelInvalidStateError
from sqlalchemy import exc as sa_exc

# What a request can raise while a dependency is away. ConnectionError and TimeoutError
# (the builtins) are what asyncpg raises connecting to a stopped server or one that does
# not answer; SQLAlchemy raises TimeoutError when no pooled connection frees up in time.
UNAVAILABLE_TYPES: tuple[type[Exception], ...] = (
    sa_exc.DBAPIError,
    sa_exc.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    ConnectionError,
    TimeoutError,
    aiormq.exceptions.AMQPConnectionError,
    ChannelInvalidStateError,
)
# SQLSTATE classes of a server that is going away or not there yet: 08 connection
# exception, 57P01-57P03 admin/crash shutdown and "cannot connect now" (starting up), and
# 25006 read-only transaction: a session still on a node that a failover made a standby.
_UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "25006")


def dependency_unavailable(exc: BaseException) -> str | None:
    """``"database"`` or ``"broker"`` when ``exc`` means that dependency is away, else None."""
    if isinstance(exc, sa_exc.TimeoutError):
        return "database"  # the pool: every connection busy or unobtainable
    if isinstance(exc, aiormq.exceptions.AMQPConnectionError | ChannelInvalidStateError):
        return "broker"
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return "database"
        return dependency_unavailable(exc.orig) if exc.orig is not None else None
    if isinstance(exc, ConnectionError | TimeoutError | asyncpg.PostgresConnectionError):
        return "database"
    state = getattr(exc, "sqlstate", None)
    if isinstance(state, str) and state.startswith(_UNAVAILABLE_SQLSTATES):
        return "database"
    cause = exc.__cause__
    return dependency_unavailable(cause) if cause is not None else None
