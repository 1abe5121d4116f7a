"""The workbench's session: the signed-in key, a per-session nonce and the person's name.

The cookie (HttpOnly, SameSite=Strict, path ``/workbench``) holds them as base64url JSON;
the key is checked again on every request (``check_key`` caches a good key for 10 s), so a
revoked key ends the session. Every form that changes something carries ``csrf``, the
HMAC of the key and the nonce under the key pepper: a page of another site cannot read it,
and a new sign-in makes a new one (:func:`check_csrf`). SameSite alone is not relied on.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

from fastapi import Request

from services.router.pages.signin import verify
from shared.auth.keys import ApiKey, Role

COOKIE = "shaobao_workbench"
PATH = "/workbench"
ROLES = (Role.DEPARTMENT, Role.SUPERVISOR, Role.CHANNEL, Role.OPS, Role.ADMIN)
BAD_CSRF = "页面已过期或来源不明，请刷新后重试 (missing or wrong CSRF token)"


@dataclass(frozen=True)
class Who:
    key: ApiKey
    raw: str
    csrf: str
    person: str

    @property
    def role(self) -> Role:
        return self.key.role


def cookie_value(raw: str, person: str) -> str:
    data = {"k": raw, "n": secrets.token_urlsafe(16), "p": person}
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _decode(value: str) -> dict[str, str] | None:
    try:
        data = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    except (binascii.Error, ValueError):
        return None
    ok = isinstance(data, dict) and all(isinstance(data.get(k), str) for k in ("k", "n", "p"))
    return data if ok else None


def _token(request: Request, raw: str, nonce: str) -> str:
    pepper = request.app.state.runtime.settings.key_pepper.get_secret_value()
    return hmac.new(pepper.encode(), f"workbench-csrf:{raw}:{nonce}".encode(),
                    hashlib.sha256).hexdigest()  # fmt: skip


async def current(request: Request) -> Who | None:
    """The signed-in person, or None (no cookie, a bad one, or a key no longer good)."""
    data = _decode(request.cookies.get(COOKIE, ""))
    if data is None:
        return None
    key = await verify(request, data["k"], ROLES)
    if key is None:
        return None
    return Who(key, data["k"], _token(request, data["k"], data["n"]), data["p"])


def csrf_ok(who: Who, form: dict[str, str]) -> bool:
    return hmac.compare_digest(form.get("csrf", "").encode(), who.csrf.encode())
