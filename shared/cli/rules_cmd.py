"""``shaobao rules``: check a rules file; explain where a case would go and why. ``rules
simulate`` (a new file on past cases) reads the router's tables: it is the router's command
(:mod:`services.router.cli`), added to this group by its entry point."""

from __future__ import annotations

from pathlib import Path

import typer
from pydantic import ValidationError

from shared.domain.errors import ConfigError
from shared.domain.owners import OwnerDirectory
from shared.domain.places import Gazetteer
from shared.domain.routing import Location, RuleSet, explain_text, route
from shared.domain.targets import Targets
from shared.settings import ConfigFiles

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
    ruleset, directory = checked_rules(file, owners or settings.owners_file)
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


def checked_rules(file: Path, owners: Path) -> tuple[RuleSet, OwnerDirectory]:
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


def current_rules(files: ConfigFiles) -> tuple[RuleSet, OwnerDirectory]:
    try:
        return _load(files.rules_file, files.owners_file)
    except ConfigError as exc:
        typer.echo(f"现行规则或名录有误 (current rules/owners invalid): {exc}", err=True)
        raise typer.Exit(1) from exc
