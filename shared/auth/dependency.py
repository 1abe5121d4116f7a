"""FastAPI dependencies for ``Authorization: Bearer <key>`` with a short in-process cache,
and the per-address limits of routes without a key and of failed key checks."""

from __future__ import annotations

import ipaddress
import time
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status

from shared.auth.audit import admin_use
from shared.auth.keys import ApiKey, Role, lookup_key
from shared.auth.scope import Area, area_of
from shared.domain.owners import OwnerDirectory

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
    key = await check_key(request, raw)
    if key is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "密钥无效、已吊销或已过期 (invalid, revoked or expired key)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return key


async def check_key(request: Request, raw: str) -> ApiKey | None:
    """The key's scope, or None when it is unknown, wrong, revoked or expired.

    A good key is remembered for 10 s, a wrong one for ``failed_key_cache_seconds`` (a
    repeat reads no database). Each failure takes a token from the client address's
    bucket; once it is empty, a key never found good is refused with 429 before any
    database read, so a flood of guessed keys costs the database nothing, while a key once
    found good (its memory stale) is checked again whatever the address's failures.
    """
    runtime = request.app.state.runtime
    settings = runtime.settings
    cache: dict[str, tuple[float, ApiKey | None]] = request.app.state.key_cache
    hit = cache.get(raw)
    fresh = hit is not None and hit[0] > time.monotonic()
    if hit is not None and fresh and hit[1] is not None:
        return hit[1]
    failures = _limiter(request, "failed_key", settings.failed_key_per_second,
                        settings.failed_key_burst)  # fmt: skip
    address = client_address(request)
    # A key this process once found good is checked again, never refused for the address's
    # failures: a careless neighbour (a revoked key behind the same NAT) must not lock it out.
    known_good = hit is not None and hit[1] is not None
    if not known_good and (wait := failures.waiting(address)) > 0:
        raise too_many(
            wait, "密钥校验失败次数过多，请稍后再试 (too many failed keys from this address)"
        )
    if hit is not None and fresh:
        key = None
    else:
        async with runtime.engine.connect() as conn:
            key = await lookup_key(
                conn, pepper=settings.key_pepper.get_secret_value(), raw=raw,
                now=runtime.clock.now(),
            )  # fmt: skip
        _remember(cache, raw, key, _CACHE_SECONDS if key else settings.failed_key_cache_seconds)
    if key is None:
        failures.retry_after(address)
    return key


def _remember(cache: dict[str, Any], raw: str, key: ApiKey | None, seconds: float) -> None:
    if seconds <= 0:
        return
    if len(cache) > 10_000:
        cache.clear()
    cache[raw] = (time.monotonic() + seconds, key)


def client_address(request: Request) -> str:
    """Who a per-address limit counts: the client's IP (as uvicorn's proxy headers give it
    behind a trusted proxy), an IPv6 client by its /64 (one host holds a whole /64)."""
    host = request.client.host if request.client else "unknown"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{host}/64", strict=False))
    return str(ip)


async def limit_anonymous(request: Request) -> None:
    """A dependency for routes without a key: a token bucket per client address."""
    settings = request.app.state.runtime.settings
    limiter = _limiter(request, "anonymous", settings.anon_rate_limit_per_second,
                       settings.anon_rate_limit_burst)  # fmt: skip
    wait = limiter.retry_after(client_address(request))
    if wait > 0:
        raise too_many(wait, "请求过于频繁，请稍后再试 (rate limit for this address)")


AnonymousLimit = Depends(limit_anonymous)


def too_many(wait: float, reason: str) -> HTTPException:
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS, reason,
        headers={"Retry-After": str(max(1, round(wait + 0.5)))},
    )  # fmt: skip


def _limiter(request: Request, name: str, per_second: float, burst: int) -> RateLimiter:
    """The app's limiter of that name, made on first use (per process)."""
    limiters: dict[str, RateLimiter] = request.app.state.__dict__.setdefault("limiters", {})
    if name not in limiters:
        most = request.app.state.runtime.settings.rate_limit_addresses
        limiters[name] = RateLimiter(per_second, burst, max_keys=most)
    return limiters[name]


class RateLimiter:
    """A token bucket per key in this process: ``burst`` at once, ``per_second`` sustained.

    Per process, not shared: with N replicas a key gets up to N times the rate, which is
    stated in docs/operations.md. A refusal is 429 with Retry-After."""

    def __init__(self, per_second: float, burst: int, max_keys: int = 1_000_000) -> None:
        self.rate = per_second
        self.burst = float(burst)
        self.max_keys = max_keys
        self._buckets: dict[object, tuple[float, float]] = {}

    def waiting(self, key_id: object, need: float = 1.0) -> float:
        """Seconds until ``need`` tokens are there (0: now), taking nothing."""
        now = time.monotonic()
        tokens, last = self._buckets.get(key_id, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        return 0.0 if tokens >= need else (need - tokens) / self.rate

    def _make_room(self, now: float) -> None:
        """Past ``max_keys`` buckets, forget the full ones (a full bucket is the same as
        none); if all are in use, start over (the memory bound wins)."""
        full = [
            k
            for k, (t, last) in self._buckets.items()
            if t + (now - last) * self.rate >= self.burst
        ]
        for k in full:
            del self._buckets[k]
        if len(self._buckets) >= self.max_keys:
            self._buckets.clear()

    def retry_after(self, key_id: object, cost: float = 1.0, need: float | None = None) -> float:
        """0 when the request may go ahead (and takes ``cost`` tokens), else seconds to wait.

        It may go ahead once the bucket holds ``need`` tokens (default: the cost, at most
        the burst); it then takes the whole cost, so a batch larger than the burst leaves
        the bucket in debt and the key waits for it to refill: every case is paid for.
        """
        need = min(cost if need is None else need, self.burst)
        now = time.monotonic()
        if key_id not in self._buckets and len(self._buckets) >= self.max_keys:
            self._make_room(now)
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
        raise too_many(wait, "请求过于频繁，请稍后再试 (rate limit for this key)")


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


# The area and owner directory of a request's service (web layer: they read the app).
def area_for(request: Request, key: ApiKey) -> Area:
    """:func:`area_of` with the service's owner directory (:func:`owners_for`)."""
    if key.role is not Role.SUPERVISOR:
        return Area()
    return area_of(key, owners_for(request))


def owners_for(request: Request) -> OwnerDirectory:
    """The service's owner directory: its deps' when it has one, else
    ``settings.owners_file`` loaded once per app (the notifier keeps no directory)."""
    runtime = request.app.state.runtime
    owners = getattr(runtime.deps, "owners", None) or getattr(request.app.state, "owners", None)
    if owners is None:
        owners = request.app.state.owners = OwnerDirectory.load(runtime.settings.owners_file)
    return owners
