"""Who reads escalation's records of a case: ops everywhere, a supervisor in its own area.

A supervisor gets the rows of a case in its own area only (an empty list for any other):
the case's place is the one its clocks were armed with (``policy.location``). Shared by
the read routes (``deadlines``, ``escalations``, ``backlog``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Request

from shared.auth.dependency import require
from shared.auth.keys import ApiKey, Role
from shared.auth.scope import area_of

ReaderKey = Annotated[ApiKey, require(Role.OPS, Role.SUPERVISOR)]


def unlimited(request: Request, key: ApiKey) -> bool:
    """The key sees every case (ops, admin): no clock needs reading to decide."""
    return area_of(key, request.app.state.runtime.deps.owners).unlimited


def visible(request: Request, key: ApiKey, clocks: Sequence[Any]) -> bool:
    """The case of these clocks lies in the key's area (always, for an unlimited key)."""
    area = area_of(key, request.app.state.runtime.deps.owners)
    return area.unlimited or any(
        area.covers_location((c.policy or {}).get("location")) for c in clocks
    )
