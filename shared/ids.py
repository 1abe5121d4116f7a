"""Identifiers: UUIDv7, time-ordered, so primary keys stay index-friendly."""

from uuid import UUID

import uuid_utils


def new_id() -> UUID:
    """A fresh UUIDv7 as a standard-library UUID."""
    return UUID(bytes=uuid_utils.uuid7().bytes)
