"""Shared helpers of intake's end-to-end tests: unique petitioners and places."""

from __future__ import annotations

import secrets
from typing import Any

XINGFU = {"district": "d01", "street": "s01", "community": "c01", "grid": "g01", "compound": "k01"}
HEPINGLI = {
    "district": "d01",
    "street": "s02",
    "community": "c01",
    "grid": "g01",
    "compound": "k01",
}


def phone() -> str:
    return f"139{secrets.randbelow(10**8):08d}"


def id_number() -> str:
    return f"1101011990{secrets.randbelow(10**7):07d}X"


def case(category: str, title: str, where: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {
        "category": category,
        "title": title,
        "description": f"{title}。请尽快处理。",
        "location": where,
    } | extra


def ref_of(settings: Any, *, phone: str | None = None, id_number: str | None = None) -> str:
    """The petitioner ref intake makes of a phone or an ID number (tests compute it the
    same way, with the session's pseudonym key)."""
    from shared.security.pii import petitioner_ref

    key = settings.pseudonym_key.get_secret_value()
    found = petitioner_ref(key, phone=phone, id_number=id_number)
    assert found is not None
    return found
