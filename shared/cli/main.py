"""``shaobao``: the operations command line."""

from __future__ import annotations

import typer
from pydantic import ValidationError

from shared.cli import (
    clock_cmd,
    deadlines_cmd,
    deliveries_cmd,
    dlq_cmd,
    keys_cmd,
    places_cmd,
    rules_cmd,
    status_cmd,
    triage_cmd,
)

app = typer.Typer(help="哨报 Shaobao 运维命令 (operations)", no_args_is_help=True)
app.add_typer(keys_cmd.app, name="keys")
app.add_typer(clock_cmd.app, name="clock")
app.add_typer(rules_cmd.app, name="rules")
app.add_typer(dlq_cmd.app, name="dlq")
app.add_typer(deliveries_cmd.app, name="deliveries")
app.add_typer(deadlines_cmd.app, name="deadlines")
app.add_typer(triage_cmd.app, name="triage")
app.add_typer(places_cmd.app, name="places")
app.command("status")(status_cmd.status)


@app.command()
def migrate() -> None:
    """Create or upgrade every schema (platform, intake, router, escalation, notifier)."""
    from shared.db.migrate import migrate_all
    from shared.settings import Settings

    migrate_all(Settings().database_url)
    typer.echo("数据库已迁移到最新版本 (migrated to head)")


@app.command()
def demo(
    intake: str = "http://127.0.0.1:8001",
    router: str = "http://127.0.0.1:8002",
    notifier: str = "http://127.0.0.1:8004",
) -> None:
    """Post one case and follow it: dispatched, delivered to a local webhook, acknowledged."""
    import asyncio

    from shared.cli.demo import run_demo

    raise typer.Exit(asyncio.run(run_demo(intake=intake, router=router, notifier=notifier)))


def main() -> None:
    """The ``shaobao`` command: settings that cannot be used are said in one line, not a
    traceback (e.g. the built-in secrets outside the test suite: run the stack's env)."""
    try:
        app()
    except ValidationError as exc:
        if exc.title != "Settings":
            raise
        for error in exc.errors():
            message = str(error["msg"]).removeprefix("Value error, ")
            typer.echo(f"设置有误 (settings): {message}", err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
