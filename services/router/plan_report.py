"""The plan's targets in the KPI report (issue 23): the targets file, intake's prevention
counts, the backlog's change and last year's key-person repeat rate, judged by
:func:`shared.domain.targets.plan_goals`.

**Decision:** the prevention numbers (patrols, on-site mediations, risks, campaigns) are
intake's own rows (so are the key-person registry and its conversions, 矛盾转化), and cases
mediated on site never reach the router. The report asks
intake (``GET /v1/reports/prevention``) with the caller's own key, as the console already
asks intake and escalation: intake scopes it by the same area rules, no copy of patrol
data has to be kept in step through new events and tables for a number read a few times
a day, and when intake does not answer the report still gives the router's numbers and
says which are missing (``prevention: null``, the targets "no data").
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import structlog

from services.router import sources
from services.router.reporting import Window
from shared.domain.calendar import SHANGHAI
from shared.domain.errors import ConfigError
from shared.domain.kpis import Kpis
from shared.domain.prevention import campaigns_due
from shared.domain.targets import Goal, Targets, conversion_rate, plan_goals
from shared.settings import Settings

log = structlog.get_logger(__name__)
_LOADED: dict[Path, tuple[float, Targets]] = {}
NO_INTAKE = "受理服务未应答，巡查与专项数据暂缺 (intake did not answer)"


def targets_for(settings: Settings) -> Targets:
    """The targets file, read again when it changes; a broken edit keeps the last good one
    (logged), and no file at all means no targets."""
    path = settings.targets_file
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return Targets()
    held = _LOADED.get(path)
    if held is not None and held[0] == mtime:
        return held[1]
    try:
        targets = Targets.load(path)
    except ConfigError as exc:
        log.error("targets_file_invalid", error=str(exc))
        return held[1] if held else Targets()
    _LOADED[path] = (mtime, targets)
    return targets


async def prevention(
    settings: Settings, bearer: str | None, window: Window
) -> dict[str, Any] | None:
    if not bearer:
        return None
    params = {"from": window.start.isoformat(), "to": window.end.isoformat(), "area": window.area}
    async with httpx.AsyncClient() as http:
        return await sources.prevention(http, sources.Sources.from_env(settings), bearer, params)


def goals(
    targets: Targets, total: Kpis, prevention: dict[str, Any] | None, *,
    last_year: float | None, window: Window,
) -> dict[str, Goal]:  # fmt: skip
    counts = (prevention or {}).get("total") or {}
    campaigns = (prevention or {}).get("campaigns") or {}
    registry = (prevention or {}).get("key_persons") or {}
    values: dict[str, float | None] = {
        "response_rate": total.response_rate,
        "resolution_rate": total.resolution_rate,
        "satisfaction_rate": total.satisfaction_rate,
        "avg_handling_working_days": total.avg_handling_working_days,
        "key_person_repeat_rate": total.key_person_repeat_rate,
        "key_person_conversion_rate": conversion_rate(
            int(registry.get("converted") or 0), int(registry.get("in_registry") or 0)
        )
        if registry
        else None,
        "campaigns_per_year": campaigns.get("started_this_year"),
        "household_coverage": campaigns.get("coverage_rate"),
        "root_settlement_rate": counts.get("root_settlement_rate"),
    }
    last_day = (window.end - timedelta(microseconds=1)).astimezone(SHANGHAI).date()
    per_year = targets.targets.get("campaigns_per_year")
    due = (
        {"campaigns_per_year": float(campaigns_due(int(per_year.min or 0), last_day))}
        if per_year
        else {}
    )
    notes: dict[str, str] = {}
    if prevention is None:
        notes |= dict.fromkeys(
            ("campaigns_per_year", "household_coverage", "root_settlement_rate",
             "key_person_conversion_rate"), NO_INTAKE,
        )  # fmt: skip
    return plan_goals(targets, values, last_year={"key_person_repeat_rate": last_year},
                      due=due, notes=notes)  # fmt: skip
