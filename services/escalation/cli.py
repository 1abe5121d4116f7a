"""Escalation's ``shaobao`` commands: ``shaobao deadlines replan`` (:mod:`.replan`).

Registered by the ``shaobao.commands`` entry point in pyproject.toml, so that shared/
never imports a service (see docs/architecture.md, "One layout for every service").
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from uuid import UUID

import typer

from services.escalation.replan import policy_overrides, run_replan
from shared.settings import Settings

app = typer.Typer(help="时限运维 (deadlines)", no_args_is_help=True)


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
