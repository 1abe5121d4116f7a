"""Re-plan a dispatch's open clocks under a new policy (``shaobao deadlines replan``,
:mod:`services.escalation.cli`).

The policy (reminder share, quiet hours, ladder delays) is frozen onto each deadline row when
it is armed, so a change of ``SHAOBAO_ESCALATION_*`` never moves an open deadline. An
operator re-plans explicitly, one dispatch at a time:

    shaobao deadlines replan --dispatch 0193... --reminder-share 0.5
    shaobao deadlines replan --dispatch 0193... --policy-file new-policy.yaml [--dry-run]

For every **armed** row of the dispatch, in one transaction with the rows locked:

* the new policy is merged over the frozen one (location, owner and start are kept);
* a clock's own due time is the dispatch's (the router's time limit): it does not move;
* a reminder not yet sent is recomputed at the new share of the clock (from the start kept
  in the policy); a reminder time already past under the new share is owed at once;
* an ``escalate.<clock>`` row's due time is recomputed from when its rung was told (its
  latest escalation step) plus the new delay of that level;
* ``version`` is bumped: it is the fencing token, so a timer claimed before the re-plan is
  stale and does nothing.

Disarmed and fired rows are left alone. Nothing is published: the owners keep the due times
they were told; only when reminders and the next rungs come changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import yaml
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.escalation.ladder import remind_at
from services.escalation.policy import EscalationPolicy, delay_of
from services.escalation.tables import deadlines, escalations
from shared.calendar_watch import load_calendar
from shared.cli.db import shared_now, transaction
from shared.domain.calendar import WorkingCalendar
from shared.settings import Settings

PRIMARY = ("acknowledge", "progress", "resolve")


@dataclass(frozen=True)
class Replanned:
    kind: str
    version: tuple[int, int]
    due_at: tuple[datetime, datetime]
    next_at: tuple[datetime, datetime]
    remind_at: tuple[datetime | None, datetime | None]


def policy_overrides(policy_file: Path | None, reminder_share: float | None) -> dict[str, Any]:
    """The frozen-policy keys the operator changes, validated by :class:`EscalationPolicy`."""
    given: dict[str, Any] = {}
    if policy_file is not None:
        data = yaml.safe_load(policy_file.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{policy_file}: 应为映射 (expected a mapping)")
        given.update(data)
    if reminder_share is not None:
        given["reminder_share"] = reminder_share
    known = {"reminder_share", "quiet_start", "quiet_end", "level_delays"}
    unknown = set(given) - known
    if unknown:
        raise ValueError(f"未知的策略项 (unknown policy keys): {sorted(unknown)}")
    if not given:
        raise ValueError("没有要改的策略项：给出 --reminder-share 或 --policy-file")
    frozen = EscalationPolicy.model_validate(given).frozen()
    out: dict[str, Any] = {}
    if "reminder_share" in given:
        out["reminder_share"] = frozen["reminder_share"]
    if "quiet_start" in given or "quiet_end" in given:
        out["quiet"] = frozen["quiet"]
    if "level_delays" in given:
        out["level_delays"] = frozen["level_delays"]
    return out


async def replan(
    conn: AsyncConnection,
    calendar: WorkingCalendar,
    dispatch_id: UUID,
    overrides: dict[str, Any],
    now: datetime,
) -> list[Replanned]:
    """Re-plan the armed rows of ``dispatch_id`` in the caller's transaction."""
    rows = (
        await conn.execute(
            select(deadlines)
            .where(deadlines.c.dispatch_id == dispatch_id, deadlines.c.state == "armed")
            .order_by(deadlines.c.kind)
            .with_for_update()
        )
    ).all()
    done = []
    for row in rows:
        policy = (row.policy or {}) | overrides
        due, remind, next_at = row.due_at, row.remind_at, row.next_at
        if row.kind in PRIMARY and row.reminded_at is None:
            started = datetime.fromisoformat(
                policy.get("dispatched_at") or row.created_at.isoformat()
            )
            remind = remind_at(started, due, float(policy.get("reminder_share", 0.75)))
            if remind is not None and remind >= due:
                remind = None
            next_at = due if remind is None else max(remind, now)
        elif row.kind.startswith("escalate."):
            step = (
                await conn.execute(
                    select(escalations.c.level, escalations.c.created_at)
                    .where(
                        escalations.c.dispatch_id == dispatch_id,
                        escalations.c.clock == row.kind.split(".", 1)[1],
                    )
                    .order_by(escalations.c.created_at.desc())
                    .limit(1)
                )
            ).first()
            if step is not None:
                due = calendar.add(step.created_at, delay_of(policy, step.level))
                next_at = due
        await conn.execute(
            update(deadlines)
            .where(deadlines.c.deadline_id == row.deadline_id)
            .values(
                policy=policy,
                due_at=due,
                remind_at=remind,
                next_at=next_at,
                updated_at=now,
                version=deadlines.c.version + 1,
            )
        )
        done.append(
            Replanned(
                kind=row.kind,
                version=(row.version, row.version + 1),
                due_at=(row.due_at, due),
                next_at=(row.next_at, next_at),
                remind_at=(row.remind_at, remind),
            )
        )
    return done


class _DryRun(Exception):
    pass


async def run_replan(
    settings: Settings, dispatch_id: UUID, overrides: dict[str, Any], *, dry_run: bool
) -> list[Replanned]:
    calendar = load_calendar(settings.calendar_dir)
    result: list[Replanned] = []
    try:
        async with transaction(settings) as conn:
            now = await shared_now(conn, settings)
            result = await replan(conn, calendar, dispatch_id, overrides, now)
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass  # rolled back
    return result
