"""A wrong key from one address must not lock out a good key from the same address."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import HTTPException

from shared.auth import dependency
from shared.auth.keys import ApiKey, Role


class _Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def monotonic(self) -> float:
        return self.t


def _request() -> Any:
    @asynccontextmanager
    async def connect() -> Any:
        yield None

    settings = SimpleNamespace(
        failed_key_per_second=1.0, failed_key_burst=3, failed_key_cache_seconds=5.0,
        rate_limit_addresses=1000, key_pepper=SimpleNamespace(get_secret_value=lambda: "p"),
    )  # fmt: skip
    runtime = SimpleNamespace(
        settings=settings, engine=SimpleNamespace(connect=connect),
        clock=SimpleNamespace(now=lambda: None),
    )  # fmt: skip
    app = SimpleNamespace(state=SimpleNamespace(runtime=runtime, key_cache={}))
    return SimpleNamespace(app=app, client=SimpleNamespace(host="10.0.0.7"))


def test_a_good_key_keeps_working_while_a_neighbour_floods_wrong_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = _Clock()
    good = ApiKey(id="k1", role=Role.OPS, channel=None, owner_id=None)
    monkeypatch.setattr(dependency.time, "monotonic", clock.monotonic)

    async def lookup(conn: Any, *, pepper: str, raw: str, now: Any) -> ApiKey | None:
        return good if raw == "good" else None

    monkeypatch.setattr(dependency, "lookup_key", lookup)
    request = _request()

    async def walk() -> list[str]:
        seen = []
        for second in range(30):  # two wrong keys a second, the good key once a second
            clock.t = 1000.0 + second
            for wrong in (f"w{second}a", f"w{second}b"):
                try:
                    await dependency.check_key(request, wrong)
                except HTTPException as exc:
                    assert exc.status_code == 429
            try:
                seen.append("ok" if await dependency.check_key(request, "good") else "bad")
            except HTTPException as exc:
                seen.append(str(exc.status_code))
        return seen

    assert set(asyncio.run(walk())) == {"ok"}
    with pytest.raises(HTTPException) as refused:  # a new, never-good key is still refused
        asyncio.run(dependency.check_key(request, "never-seen"))
    assert refused.value.status_code == 429
