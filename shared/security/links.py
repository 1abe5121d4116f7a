"""Signed feedback links: a petitioner with no channel account rates a result by link.

Token ``<case_id>.<expires_unix>.<mac>``, mac = HMAC-SHA256(key, "feedback:<case_id>:<expires>")
truncated to 128 bits. Intake verifies it in constant time; the link names no person.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from uuid import UUID


def _mac(key: str, case_id: UUID, expires: int) -> str:
    msg = f"feedback:{case_id}:{expires}".encode()
    return hmac.new(key.encode(), msg, hashlib.sha256).hexdigest()[:32]


def feedback_token(key: str, case_id: UUID, expires: int) -> str:
    return f"{case_id}.{expires}.{_mac(key, case_id, expires)}"


_TOKEN = re.compile(r"^[0-9a-f-]{36}\.[0-9]{1,12}\.[0-9a-f]{32}$")


def read_feedback_token(key: str, token: str, now: float) -> UUID | None:
    """The case the token rates, or None when it is forged, malformed or expired. The whole
    token is matched first (ASCII only): ``"²".isdigit()`` is true, and a non-ASCII mac makes
    ``compare_digest`` raise."""
    if not _TOKEN.fullmatch(token):
        return None
    parts = token.split(".")
    try:
        case_id = UUID(parts[0])
    except ValueError:
        return None
    expires = int(parts[1])
    if expires < now or not hmac.compare_digest(parts[2], _mac(key, case_id, expires)):
        return None
    return case_id
