"""Who may record prevention work, and where (issue 23, part B).

(The SQL filter of an area, ``in_area``, is use-case code: :mod:`services.intake.prevention_facts`.)

Writes: a supervisor key (a community or street office) whose area covers the place, and
admin. Patrols and risks also take the ``grid_patrol`` channel key: the grid workers' app
already submits its cases with it, so the same app records the day's patrol and the risks
seen on it (a channel key has no area, as it has none for its cases; the worker named must
be registered). Every other key is refused (403). Reads: supervisors (their own area), ops
and admin.
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Annotated

from fastapi import HTTPException, Request
from pydantic import BaseModel

from shared.auth.dependency import require
from shared.auth.keys import ApiKey, Role
from shared.auth.scope import OUT_OF_AREA, Area, area_of
from shared.domain.calendar import SHANGHAI
from shared.domain.taxonomy import path_problem

PATROL_CHANNEL = "grid_patrol"
FieldKey = Annotated[ApiKey, require(Role.CHANNEL, Role.SUPERVISOR)]
OfficeKey = Annotated[ApiKey, require(Role.SUPERVISOR)]
ReaderKey = Annotated[ApiKey, require(Role.OPS, Role.SUPERVISOR)]


def area(request: Request, key: ApiKey) -> Area:
    return area_of(key, request.app.state.runtime.deps.owners)


def check_field_key(key: ApiKey) -> None:
    """A channel key must be the grid workers' own (``grid_patrol``)."""
    if key.role is Role.CHANNEL and key.channel != PATROL_CHANNEL:
        raise HTTPException(
            403, f"只有网格巡查渠道 ({PATROL_CHANNEL}) 或社区、街道可登记 (channel not allowed)"
        )


def check_writes_at(request: Request, key: ApiKey, path: str) -> None:
    """403 when a supervisor writes outside its area (nothing there to hide: it named it)."""
    if not area(request, key).covers(path):
        raise HTTPException(403, f"地点 {path} {OUT_OF_AREA}")


def report_area(request: Request, key: ApiKey, asked: str) -> Area:
    """The area a report covers: ``asked`` inside the key's own (all of it when empty)."""
    problem = path_problem(asked) if asked else None
    if problem:
        raise HTTPException(422, f"区域路径无效 (bad area): {problem}")
    found = area(request, key).report_area(asked)
    if found is None:
        raise HTTPException(403, f"区域 {asked or '全市'} {OUT_OF_AREA}")
    return Area(found)


def today(request: Request) -> date:
    return request.app.state.runtime.clock.now().astimezone(SHANGHAI).date()  # type: ignore[no-any-return]


def fingerprint(body: BaseModel) -> str:
    """What makes a repeated create a replay (same body) or a conflict (another body)."""
    return hashlib.sha256(body.model_dump_json().encode()).hexdigest()
