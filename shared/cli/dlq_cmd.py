"""``shaobao dlq``: look at and replay dead letters (:mod:`shared.messaging.dead_letters`;
ops' API has the same: router ``GET /v1/dead-letters/{service}``, ``POST …/replay``).

Replay publishes each message back to the events exchange under its event type and
removes it from the dead-letter queue; consumers are idempotent, so a replay of
something already applied changes nothing.
"""

from __future__ import annotations

import asyncio

import typer

from shared.messaging import dead_letters
from shared.settings import Settings

app = typer.Typer(help="死信队列 (dead letters)", no_args_is_help=True)


def _service(service: str) -> str:
    try:
        dead_letters.queue_of(service)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    return service


@app.command("list")
def list_(
    service: str = typer.Argument(..., help="intake | router | escalation | notifier"),
) -> None:
    """Print each dead letter: id, type and the reason it was refused."""
    found = asyncio.run(dead_letters.look(Settings().amqp_urls, _service(service), limit=10_000))
    for d in found:
        count = "?" if d.events is None else d.events
        events = f" ×{count} 个事件" if d.events != 1 else ""
        typer.echo(f"{d.message_id}  {d.event_type}{events}  {d.reason}")
    name = dead_letters.queue_of(service)
    typer.echo(f"共 {len(found)} 条死信 ({len(found)} dead letters in {name})")


@app.command("replay")
def replay(
    service: str = typer.Argument(..., help="intake | router | escalation | notifier"),
    limit: int = typer.Option(100, min=1, help="at most this many"),
) -> None:
    """Publish dead letters back to the exchange and remove them from the DLQ."""
    settings = Settings()
    done = asyncio.run(
        dead_letters.replay(settings.amqp_urls, settings.exchange, _service(service), limit=limit)
    )
    typer.echo(f"已重放 {done} 条 (replayed)")
