"""``shaobao deliveries``: what ops do after a ``delivery.failed``: list and replay.

``replay ID`` puts one delivery back to ``pending`` with its attempts reset; the
notifier's worker sends it again under the same delivery id (receivers dedupe on it).
The same as ``POST /v1/deliveries/{id}/replay`` on the notifier, done in its schema.
"""

from __future__ import annotations

import asyncio
from uuid import UUID

import typer
from sqlalchemy import text

from shared.cli.db import transaction
from shared.settings import Settings

app = typer.Typer(help="投递记录 (deliveries)", no_args_is_help=True)

_REPLAY = text(
    "UPDATE notifier.deliveries SET status = 'pending', attempts = 0, next_attempt_at = now(),"
    " locked_until = NULL WHERE delivery_id = :id AND status <> 'delivered'"
    " RETURNING owner_id, status"
)
_LIST = text(
    "SELECT delivery_id, owner_id, event_type, case_id, attempts, last_error"
    " FROM notifier.deliveries WHERE status = :status ORDER BY created_at DESC LIMIT :limit"
)


@app.command("replay")
def replay(delivery_id: UUID = typer.Argument(..., help="the delivery's id")) -> None:
    """Send one delivery again (a failed one, usually)."""

    async def go() -> str | None:
        async with transaction(Settings()) as conn:
            row = (await conn.execute(_REPLAY, {"id": delivery_id})).first()
        return None if row is None else str(row.owner_id)

    owner = asyncio.run(go())
    if owner is None:
        typer.echo(f"投递 {delivery_id} 不存在或已送达 (not found or delivered)", err=True)
        raise typer.Exit(1)
    typer.echo(f"已重新排队 {delivery_id} → {owner} (queued again)")


@app.command("list")
def list_(status: str = "failed", limit: int = 50) -> None:
    """Deliveries in STATUS (default failed), newest first."""

    async def go() -> list[str]:
        async with transaction(Settings()) as conn:
            rows = (await conn.execute(_LIST, {"status": status, "limit": limit})).all()
        return [
            f"{r.delivery_id}  {r.owner_id}  {r.event_type}  case={r.case_id}  "
            f"attempts={r.attempts}  {r.last_error or ''}"
            for r in rows
        ]

    for line in asyncio.run(go()):
        typer.echo(line)
