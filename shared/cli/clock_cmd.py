"""``shaobao clock``: move the shared test clock (only when the test clock is enabled)."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import typer
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from shared.cli.db import transaction
from shared.db.platform import test_clock
from shared.settings import Settings

app = typer.Typer(help="测试时钟 (test clock)", no_args_is_help=True)
_ADVANCE = re.compile(r"^(\d+)(m|h|d|w)$")
_UNIT = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_advance(text: str) -> timedelta:
    """``90m``, ``3h``, ``3d``, ``2w`` → a timedelta (calendar time)."""
    match = _ADVANCE.match(text.strip())
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"时长「{text}」应写成 90m / 3h / 3d / 2w")
    return timedelta(**{_UNIT[match.group(2)]: int(match.group(1))})


@app.command("advance")
def advance(duration: str = typer.Argument(..., help="e.g. 90m, 3d, 2w")) -> None:
    """Move every service's clock forward by DURATION."""
    settings = Settings()
    if not settings.test_clock:
        typer.echo("测试时钟未启用：需要 SHAOBAO_TEST_CLOCK=true (test clock disabled)", err=True)
        raise typer.Exit(2)
    try:
        delta = parse_advance(duration)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc

    async def go() -> float:
        async with transaction(settings) as conn:
            stmt = pg_insert(test_clock).values(
                id=1, offset_seconds=delta.total_seconds(), enabled=True
            )
            stmt = stmt.on_conflict_do_update(
                index_elements=[test_clock.c.id],
                set_={
                    "offset_seconds": test_clock.c.offset_seconds + delta.total_seconds(),
                    "updated_at": func.now(),
                },
            )
            await conn.execute(stmt)
            return float(
                await conn.scalar(select(test_clock.c.offset_seconds).where(test_clock.c.id == 1))
                or 0
            )

    total = asyncio.run(go())
    typer.echo(f"时钟已前移 {duration}；累计偏移 {total / 3600:.2f} 小时 (offset {total:.0f}s)")
