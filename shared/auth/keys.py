"""API keys: made once, shown once, stored as a keyed hash.

A key reads ``sbk_<prefix>_<secret>``. The prefix finds the row; the secret is compared
as HMAC-SHA256(pepper, secret) in constant time. Roles: channel (bound to one channel),
department and supervisor (bound to one owner), ops (reads everything but personal data),
service (a service's own key: the notifier reads a petitioner's contact to send a message,
and nothing else), admin.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db.platform import api_keys
from shared.ids import new_id


class Role(StrEnum):
    CHANNEL = "channel"
    DEPARTMENT = "department"
    SUPERVISOR = "supervisor"
    OPS = "ops"
    SERVICE = "service"
    ADMIN = "admin"


CHANNELS = (
    "hotline_12345",
    "grid_app",
    "wechat",
    "walk_in",
    "superior_transfer",
    "grid_patrol",
    "open311",
)


@dataclass(frozen=True)
class ApiKey:
    id: UUID
    role: Role
    channel: str | None
    owner_id: str | None

    @property
    def actor(self) -> str:
        scope = self.channel or self.owner_id or "-"
        return f"{self.role.value}:{scope}"


def hash_secret(pepper: str, secret: str) -> bytes:
    return hmac.new(pepper.encode(), secret.encode(), hashlib.sha256).digest()


def split_key(raw: str) -> tuple[str, str] | None:
    parts = raw.split("_")
    if len(parts) != 3 or parts[0] != "sbk" or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def validate_scope(role: Role, channel: str | None, owner_id: str | None) -> None:
    """Raise ValueError unless the scope fits the role."""
    if role is Role.CHANNEL:
        if channel not in CHANNELS:
            raise ValueError(f"channel 必须是 {', '.join(CHANNELS)} 之一")
        if owner_id:
            raise ValueError("channel 角色不能绑定 owner")
    elif role in (Role.DEPARTMENT, Role.SUPERVISOR):
        if not owner_id:
            raise ValueError(f"{role.value} 角色必须指定 --owner")
        if channel:
            raise ValueError(f"{role.value} 角色不能绑定 channel")
    elif channel or owner_id:
        raise ValueError(f"{role.value} 角色不绑定 channel 或 owner")


async def create_key(
    conn: AsyncConnection,
    *,
    pepper: str,
    role: Role,
    channel: str | None = None,
    owner_id: str | None = None,
    label: str | None = None,
    expires_at: datetime | None = None,
) -> str:
    """Store a new key's hash and return the key itself (the only time it is seen)."""
    validate_scope(role, channel, owner_id)
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(24).replace("_", "-")
    await conn.execute(
        insert(api_keys).values(
            id=new_id(),
            prefix=prefix,
            secret_hash=hash_secret(pepper, secret),
            role=role.value,
            channel=channel,
            owner_id=owner_id,
            label=label,
            expires_at=expires_at,
        )
    )
    return f"sbk_{prefix}_{secret}"


async def lookup_key(
    conn: AsyncConnection, *, pepper: str, raw: str, now: datetime
) -> ApiKey | None:
    """The key's scope, or None when unknown, wrong, revoked or expired."""
    parts = split_key(raw)
    if parts is None:
        return None
    prefix, secret = parts
    row = (await conn.execute(select(api_keys).where(api_keys.c.prefix == prefix))).first()
    if row is None or not hmac.compare_digest(row.secret_hash, hash_secret(pepper, secret)):
        return None
    if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        return None
    return ApiKey(id=row.id, role=Role(row.role), channel=row.channel, owner_id=row.owner_id)
