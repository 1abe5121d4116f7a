"""``shaobao deadlines replan``: re-plan a dispatch's open clocks under a new policy.

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

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import typer
import yaml
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.escalation.ladder import remind_at
from services.escalation.policy import EscalationPolicy, delay_of
from services.escalation.tables import deadlines, escalations
from shared.calendar_watch import load_calendar
from shared.cli.db import transaction
from shared.db.platform import test_clock
from shared.domain.calendar import WorkingCalendar
from shared.settings import Settings

app = typer.Typer(help="时限运维 (deadlines)", no_args_is_help=True)
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


async def shared_now(conn: AsyncConnection, settings: Settings) -> datetime:
    """The one clock every service reads (the test clock's offset when it is enabled)."""
    now = datetime.now(UTC)
    if settings.test_clock:
        offset = await conn.scalar(select(test_clock.c.offset_seconds).where(test_clock.c.id == 1))
        now += timedelta(seconds=float(offset or 0))
    return now


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


def _t(value: datetime | None) -> str:
    return value.isoformat(timespec="minutes") if value else "-"


@app.command("replan")
def replan_cmd(
    dispatch: UUID = typer.Option(..., "--dispatch", help="the dispatch whose clocks to re-plan"),
    reminder_share: float | None = typer.Option(
        None, "--reminder-share", help="share of each clock at which the reminder goes (0-1)"
    ),
    policy_file: Path | None = typer.Option(
        None,
        "--policy-file",
        exists=True,
        dir_okay=False,
        help="YAML: reminder_share, quiet_start, quiet_end, level_delays",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="show the new plan, change nothing"),
) -> None:
    """Recompute the open (armed) clocks of one dispatch under a new policy."""
    try:
        overrides = policy_overrides(policy_file, reminder_share)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    done = asyncio.run(run_replan(Settings(), dispatch, overrides, dry_run=dry_run))
    if not done:
        typer.echo(f"派单 {dispatch} 没有未到期的时限 (no armed deadlines)", err=True)
        raise typer.Exit(1)
    for r in done:
        typer.echo(
            f"{r.kind:<22} v{r.version[0]}->v{r.version[1]}  "
            f"remind {_t(r.remind_at[0])} -> {_t(r.remind_at[1])}  "
            f"next {_t(r.next_at[0])} -> {_t(r.next_at[1])}  "
            f"due {_t(r.due_at[0])} -> {_t(r.due_at[1])}"
        )
    verb = "将重排 (dry run, nothing changed)" if dry_run else "已重排 (replanned)"
    typer.echo(f"{len(done)} 个时限{verb}：{overrides}")
