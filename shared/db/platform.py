"""The ``platform`` schema: what every service reads but none owns alone.

API keys (written only by ``shaobao keys``), the shared test clock, and the audit log of
admin actions. Services only read keys and the clock.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Identity,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    func,
)

from shared.db.types import JSON, TZ, UUIDT

metadata = MetaData(schema="platform")

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", UUIDT, primary_key=True),
    Column("prefix", Text, nullable=False, unique=True),
    Column("secret_hash", LargeBinary, nullable=False),
    Column("role", Text, nullable=False),
    Column("channel", Text),
    Column("owner_id", Text),
    Column("label", Text),
    Column("created_at", TZ, nullable=False, server_default=func.now()),
    Column("expires_at", TZ),
    Column("revoked_at", TZ),
)

test_clock = Table(
    "test_clock",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("offset_seconds", Float, nullable=False, server_default="0"),
    Column("enabled", Boolean, nullable=False, server_default="false"),
    Column("updated_at", TZ, nullable=False, server_default=func.now()),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigInteger, Identity(), primary_key=True),
    Column("at", TZ, nullable=False, server_default=func.now()),
    Column("actor", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("detail", JSON),
)
