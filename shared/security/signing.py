"""Webhook signatures: HMAC-SHA256 over ``"{timestamp}.{body}"``.

Headers: ``X-Shaobao-Timestamp`` (unix seconds) and ``X-Shaobao-Signature``
(``sha256=<hex>``). Receivers should reject a timestamp older than five minutes
(replays) and compare in constant time; :func:`verify` does both.
"""

from __future__ import annotations

import hashlib
import hmac

TIMESTAMP_HEADER = "X-Shaobao-Timestamp"
SIGNATURE_HEADER = "X-Shaobao-Signature"
DELIVERY_HEADER = "X-Shaobao-Delivery"
MAX_AGE_SECONDS = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def signed_headers(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        "Content-Type": "application/json; charset=utf-8",
    }


def verify(secret: str, headers: dict[str, str], body: bytes, now: float) -> bool:
    """True when the signature matches and the timestamp is fresh."""
    lower = {k.lower(): v for k, v in headers.items()}
    raw_ts = lower.get(TIMESTAMP_HEADER.lower(), "")
    given = lower.get(SIGNATURE_HEADER.lower(), "")
    if not raw_ts.isdigit() or abs(now - int(raw_ts)) > MAX_AGE_SECONDS:
        return False
    return hmac.compare_digest(given, sign(secret, int(raw_ts), body))
