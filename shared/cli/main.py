"""``shaobao``: the operations command line.

The commands that read or write one service's tables are that service's (``services/<s>/
cli.py``); pyproject.toml names them as ``shaobao.commands`` entry points and :func:`plug_in`
adds them here, so shared/ never imports a service (an import-linter contract). An entry
point's name is where the command goes: ``deadlines`` is a group of its own, ``rules.simulate``
the command ``simulate`` of the ``rules`` group.
"""

from __future__ import annotations

from importlib.metadata import entry_points

import typer
from pydantic import ValidationError

from shared.cli import (
    clock_cmd,
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
app.add_typer(triage_cmd.app, name="triage")
app.add_typer(places_cmd.app, name="places")
app.command("status")(status_cmd.status)
COMMANDS = "shaobao.commands"  # the entry-point group of the services' commands


def plug_in(root: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add every ``shaobao.commands`` entry point: a Typer as a group, a function as a command."""
    for point in sorted(entry_points(group=COMMANDS), key=lambda p: p.name):
        parent, _, name = point.name.rpartition(".")
        target = groups[parent] if parent else root
        command = point.load()
        if isinstance(command, typer.Typer):
            target.add_typer(command, name=name)
        else:
            target.command(name)(command)


plug_in(app, {"rules": rules_cmd.app})


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
