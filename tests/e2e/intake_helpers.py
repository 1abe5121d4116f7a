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
