"""``shaobao rules``: check a rules file; explain where a case would go and why."""

from __future__ import annotations

from pathlib import Path

import typer
from pydantic import ValidationError

from shared.domain.errors import ConfigError
from shared.domain.owners import OwnerDirectory
from shared.domain.places import Gazetteer
from shared.domain.routing import Location, RuleSet, explain_text, route
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
    try:
        directory = OwnerDirectory.load(owners or settings.owners_file)
        ruleset = RuleSet.load(file)
        ruleset.check_owners(directory)
    except ConfigError as exc:
        typer.echo(f"规则文件有误 (invalid): {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"规则文件有效 (ok)：{len(ruleset.rules)} 条规则，版本 {ruleset.version}")
    places_file = places or settings.places_file
    try:
        gazetteer = Gazetteer.load(places_file)
        gazetteer.check_owners(directory, file=places_file.name)
    except ConfigError as exc:
        typer.echo(f"地名库有误 (invalid places): {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"地名库有效 (places ok)：{len(gazetteer.all())} 个地点，版本 {gazetteer.version}")


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
