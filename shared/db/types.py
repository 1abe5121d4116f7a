"""Column helpers shared by the services' table definitions."""

from __future__ import annotations

from sqlalchemy import DateTime, Uuid
from sqlalchemy.dialects.postgresql import JSONB

TZ = DateTime(timezone=True)
UUIDT = Uuid(as_uuid=True)
JSON = JSONB(none_as_null=True)
