"""FastAPI dependencies for ``Authorization: Bearer <key>`` with a short in-process cache."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from shared.auth.keys import ApiKey, Role, lookup_key

_CACHE_SECONDS = 10.0


async def current_key(request: Request) -> ApiKey:
    header = request.headers.get("authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "缺少密钥：请使用 Authorization: Bearer <key> (missing bearer key)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    runtime = request.app.state.runtime
    cache: dict[str, tuple[float, ApiKey]] = request.app.state.key_cache
    hit = cache.get(raw)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    async with runtime.engine.connect() as conn:
        key = await lookup_key(
            conn,
            pepper=runtime.settings.key_pepper.get_secret_value(),
            raw=raw,
            now=runtime.clock.now(),
        )
    if key is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "密钥无效、已吊销或已过期 (invalid, revoked or expired key)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if len(cache) > 10_000:
        cache.clear()
    cache[raw] = (time.monotonic() + _CACHE_SECONDS, key)
    return key


CurrentKey = Annotated[ApiKey, Depends(current_key)]


def require(*roles: Role):  # type: ignore[no-untyped-def]
    """A dependency that admits only the given roles (admin is always admitted)."""

    async def check(key: CurrentKey) -> ApiKey:
        if key.role not in roles and key.role is not Role.ADMIN:
            allowed = ", ".join(r.value for r in roles)
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"此操作需要角色 {allowed} (role {key.role.value} not allowed)",
            )
        return key

    return Depends(check)
