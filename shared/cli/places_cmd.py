"""``shaobao places``: where an address as said, or a point, resolves in the gazetteer.

Offline: reads ``config/places.yaml`` (or ``--places``) only.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import typer

from shared.domain.errors import ConfigError
from shared.domain.places import Gazetteer, PlaceMatch
from shared.domain.taxonomy import LEVEL_LABELS
from shared.settings import ConfigFiles

app = typer.Typer(help="地名库 (gazetteer)", no_args_is_help=True)


@app.command("resolve")
def resolve(
    address: str = typer.Argument("", help="地址原话, e.g. 和平里小区3号楼2单元"),
    lat: float | None = typer.Option(None, min=-90, max=90, help="纬度 (WGS-84)"),
    lon: float | None = typer.Option(None, min=-180, max=180, help="经度 (WGS-84)"),
    places: Path | None = typer.Option(None, help="places.yaml (default: settings)"),
    as_json: bool = typer.Option(False, "--json", help="print the match as JSON"),
) -> None:
    """Say which place an address (and/or a point) names, how sure, and why."""
    if (lat is None) != (lon is None):
        typer.echo("坐标需同时给出 --lat 和 --lon (give both --lat and --lon)", err=True)
        raise typer.Exit(2)
    if not address and lat is None:
        typer.echo("请给出地址或坐标 (give an address and/or --lat/--lon)", err=True)
        raise typer.Exit(2)
    try:
        gazetteer = Gazetteer.load(places or ConfigFiles().places_file)
    except ConfigError as exc:
        typer.echo(f"地名库有误 (invalid places): {exc}", err=True)
        raise typer.Exit(1) from exc
    point = (lat, lon) if lat is not None and lon is not None else None
    match = gazetteer.resolve(address or None, point)
    typer.echo(_as_json(match) if as_json else _as_text(match))


def _as_json(match: PlaceMatch) -> str:
    data = {**asdict(match), "location": match.location}
    return json.dumps(data, ensure_ascii=False, indent=2)


def _as_text(match: PlaceMatch) -> str:
    level = LEVEL_LABELS.get(match.level or "", "")
    place = f"{match.name} {match.path}（{level}）" if match.path else "未知 (unknown)"
    lines = [f"地点 (place): {place}", f"把握 (confident): {'是' if match.confident else '否'}"]
    if match.building is not None:
        unit = f" {match.unit}单元" if match.unit is not None else ""
        lines.append(f"楼号 (building): {match.building}号楼{unit}")
    for c in match.candidates:
        lines.append(f"候选 (candidate): {c.name} {c.path} score={c.score:.2f}")
    lines.append(f"说明 (explanation): {match.explanation}")
    return "\n".join(lines)
