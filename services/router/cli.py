"""The router's ``shaobao`` commands: ``shaobao rules simulate`` (:mod:`.rules_simulate`).

Registered by the ``shaobao.commands`` entry point ``rules.simulate`` in pyproject.toml (a
command of shared's ``rules`` group), so that shared/ never imports a service. The
simulation is imported when the command runs, not when ``shaobao`` starts.
"""

from __future__ import annotations

from pathlib import Path

import typer

from shared.cli.rules_cmd import checked_rules, current_rules
from shared.domain.rule_simulation import Routing
from shared.settings import ConfigFiles, Settings


def simulate(
    rules: Path = typer.Option(..., "--rules", dir_okay=False, help="新规则文件 (the new rules)"),
    since: str = typer.Option("90d", help="受理时间范围 (received within): 90d, 12h, 2w, 365d"),
    owners: Path | None = typer.Option(
        None, "--owners", dir_okay=False, help="新名录 (new owners.yaml; default: current)"
    ),
    examples: int = typer.Option(5, min=0, max=10_000, help="示例件数 (examples shown)"),
    as_json: bool = typer.Option(False, "--json", help="机器可读输出 (machine-readable)"),
    batch: int = typer.Option(1000, min=10, max=100_000, help="每批读取行数 (rows per fetch)"),
) -> None:
    """用新规则重算历史诉求的派单 (route past cases again under a new rules file).

    Cases received within --since are routed by the router's own function under
    the current rules and owners and under the new ones (--owners: a new
    directory too): how many would get another lead or other co-handlers, by
    category and owner, with examples; and how many differ from the router's
    stored first routing. The new file is validated as `rules check` does: a
    broken one exits 1 before the database is read. Database settings as for
    the other commands: eval "$(bash deploy/stack.sh env)". Read-only, in
    batches. See docs/operations.md.
    """
    import asyncio

    from services.router.rules_simulate import report, run_simulation
    from shared.cli.since import parse_since

    try:
        span = parse_since(since)
    except ValueError as exc:
        typer.echo(f"--since 有误 (invalid): {exc}", err=True)
        raise typer.Exit(2) from exc
    files = ConfigFiles()
    new = Routing(*checked_rules(rules, owners or files.owners_file))
    current = Routing(*current_rules(files))
    tally = asyncio.run(
        run_simulation(Settings(), current, new, since=span, examples=examples, batch=batch)
    )
    typer.echo(report(tally, current, new, rules_file=rules.name, since=since, as_json=as_json))
