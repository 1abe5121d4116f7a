"""Validation of Open311 answers against the GeoReport v2 JSON schemas in
tests/data/open311 (published ones vendored, the rest written from the spec: see its README).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SCHEMAS = Path(__file__).resolve().parents[1] / "data" / "open311"


@cache
def _registry() -> Registry[Any]:
    files = [*SCHEMAS.glob("*.json"), *SCHEMAS.glob("written-here/*.json")]
    return Registry().with_resources(
        (f.relative_to(SCHEMAS).as_posix(), Resource.from_contents(
            json.loads(f.read_text(encoding="utf-8")), default_specification=DRAFT4))
        for f in files
    )  # fmt: skip


def validate(document: Any, schema: str) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``document`` fits ``schema`` (a file name
    under tests/data/open311, e.g. ``requests.json`` or ``written-here/errors.json``).
    ``date-time`` formats are checked too."""
    contents = json.loads((SCHEMAS / schema).read_text(encoding="utf-8"))
    validator = Draft4Validator(
        contents, registry=_registry(), format_checker=Draft4Validator.FORMAT_CHECKER
    )
    validator.validate(document)
