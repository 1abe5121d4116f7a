"""FastAPI dependencies for ``Authorization: Bearer <key>`` with a short in-process cache."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from shared.auth.audit import admin_use
from shared.auth.keys import ApiKey, Role, lookup_key

_CACHE_SECONDS = 10.0
READ_METHODS = frozenset({"GET", "HEAD"})


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


class RateLimiter:
    """A token bucket per key in this process: ``burst`` at once, ``per_second`` sustained.

    Per process, not shared: with N replicas a key gets up to N times the rate, which is
    stated in docs/operations.md. A refusal is 429 with Retry-After."""

    def __init__(self, per_second: float, burst: int) -> None:
        self.rate = per_second
        self.burst = float(burst)
        self._buckets: dict[object, tuple[float, float]] = {}

    def retry_after(self, key_id: object, cost: float = 1.0, need: float | None = None) -> float:
        """0 when the request may go ahead (and takes ``cost`` tokens), else seconds to wait.

        It may go ahead once the bucket holds ``need`` tokens (default: the cost, at most
        the burst); it then takes the whole cost, so a batch larger than the burst leaves
        the bucket in debt and the key waits for it to refill: every case is paid for.
        """
        need = min(cost if need is None else need, self.burst)
        now = time.monotonic()
        tokens, last = self._buckets.get(key_id, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= need:
            self._buckets[key_id] = (tokens - cost, now)
            return 0.0
        self._buckets[key_id] = (tokens, now)
        return (need - tokens) / self.rate


async def limited_key(request: Request, key: Annotated[ApiKey, Depends(current_key)]) -> ApiKey:
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    if limiter is None:
        settings = request.app.state.runtime.settings
        limiter = RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)
        request.app.state.rate_limiter = limiter
    charge(request, key, 1)
    await admin_use(request, key)  # every use of an admin key is audited
    return key


def charge(request: Request, key: ApiKey, cost: float) -> None:
    """Take ``cost`` tokens from the key's bucket or answer 429 with Retry-After (a batch
    of cases costs one token per case: the dependency took one, the route takes the rest)."""
    if cost <= 0:
        return
    limiter: RateLimiter = request.app.state.rate_limiter
    # the key's own token is already taken: a batch needs at most the rest of a full bucket
    wait = limiter.retry_after(key.id, cost, need=min(cost, limiter.burst - 1))
    if wait > 0:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "请求过于频繁，请稍后再试 (rate limit for this key)",
            headers={"Retry-After": str(max(1, round(wait + 0.5)))},
        )


CurrentKey = Annotated[ApiKey, Depends(limited_key)]


def require(*roles: Role):  # type: ignore[no-untyped-def]
    """A dependency that admits only the given roles (admin is always admitted). An ops key
    is read-only whatever the roles: it is refused on any method but GET and HEAD."""

    async def check(key: CurrentKey, request: Request) -> ApiKey:  # rate-limited per key
        if key.role not in roles and key.role is not Role.ADMIN:
            allowed = ", ".join(r.value for r in (*roles, Role.ADMIN))
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"此操作需要角色 {allowed} (role {key.role.value} not allowed)",
            )
        if key.role is Role.OPS and request.method not in READ_METHODS:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "运维密钥只读 (ops keys are read-only)")
        return key

    return Depends(check)
