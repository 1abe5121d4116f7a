"""``shaobao rules``: check a rules file; explain where a case would go and why; simulate a
new file on past cases."""

from __future__ import annotations

from pathlib import Path

import typer
from pydantic import ValidationError

from shared.domain.errors import ConfigError
from shared.domain.owners import OwnerDirectory
from shared.domain.places import Gazetteer
from shared.domain.routing import Location, RuleSet, explain_text, route
from shared.domain.rule_simulation import Routing
from shared.domain.targets import Targets
from shared.settings import ConfigFiles, Settings

app = typer.Typer(help="派单规则 (routing rules)", no_args_is_help=True)


@app.command("check")
def check(
    file: Path = typer.Argument(..., exists=True, dir_okay=False),
    owners: Path | None = typer.Option(None, help="owners.yaml (default: settings)"),
    places: Path | None = typer.Option(None, help="places.yaml (default: settings)"),
) -> None:
    """Validate a rules file against the owner directory, and the gazetteer against both;
    errors name the file, entry and field."""
    settings = ConfigFiles()
    ruleset, directory = _checked(file, owners or settings.owners_file)
    typer.echo(f"规则文件有效 (ok)：{len(ruleset.rules)} 条规则，版本 {ruleset.version}")
    places_file = places or settings.places_file
    try:
        gazetteer = Gazetteer.load(places_file)
        gazetteer.check_owners(directory, file=places_file.name)
    except ConfigError as exc:
        typer.echo(f"地名库有误 (invalid places): {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"地名库有效 (places ok)：{len(gazetteer.all())} 个地点，版本 {gazetteer.version}")
    try:
        targets = Targets.load(settings.targets_file)
    except ConfigError as exc:
        typer.echo(f"考核目标有误 (invalid targets): {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"考核目标有效 (targets ok)：{len(targets.targets)} 项，版本 {targets.version}")


def _load(file: Path, owners: Path) -> tuple[RuleSet, OwnerDirectory]:
    directory = OwnerDirectory.load(owners)
    ruleset = RuleSet.load(file)
    ruleset.check_owners(directory)
    return ruleset, directory


def _checked(file: Path, owners: Path) -> tuple[RuleSet, OwnerDirectory]:
    """Validated as ``check`` validates; a broken file ends the command with exit 1."""
    try:
        return _load(file, owners)
    except ConfigError as exc:
        typer.echo(f"规则文件有误 (invalid): {exc}", err=True)
        raise typer.Exit(1) from exc


@app.command("explain")
def explain(
    category: str = typer.Option(..., help="e.g. property.elevator"),
    district: str | None = None,
    street: str | None = None,
    community: str | None = None,
    grid: str | None = None,
    compound: str | None = None,
) -> None:
    """Say which rule would route such a case, which fields matched, and why others lost."""
    settings = ConfigFiles()
    try:
        decision = route(
            RuleSet.load(settings.rules_file),
            OwnerDirectory.load(settings.owners_file),
            category=category,
            location=Location(
                district=district, street=street, community=community, grid=grid, compound=compound
            ),
        )
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    except ValidationError as exc:  # a place given wrong: say which, no traceback
        reasons = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        typer.echo(f"地点有误 (invalid place): {reasons}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(explain_text(decision))


@app.command("simulate")
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

    from shared.cli.rules_simulate import parse_since, report, run_simulation

    try:
        span = parse_since(since)
    except ValueError as exc:
        typer.echo(f"--since 有误 (invalid): {exc}", err=True)
        raise typer.Exit(2) from exc
    files = ConfigFiles()
    new = Routing(*_checked(rules, owners or files.owners_file))
    current = Routing(*_current(files))
    tally = asyncio.run(
        run_simulation(Settings(), current, new, since=span, examples=examples, batch=batch)
    )
    typer.echo(report(tally, current, new, rules_file=rules.name, since=since, as_json=as_json))


def _current(files: ConfigFiles) -> tuple[RuleSet, OwnerDirectory]:
    try:
        return _load(files.rules_file, files.owners_file)
    except ConfigError as exc:
        typer.echo(f"现行规则或名录有误 (current rules/owners invalid): {exc}", err=True)
        raise typer.Exit(1) from exc
