"""SF 311 rows as Shaobao submissions: the mapping file and the CSV parser (no I/O but files).

``bench/sf311_mapping.yaml`` (format in its header) says, for a row of
``../shared/data/sf311_sample_10k.csv``: which channel its ``Source`` is, which of our
categories its ``Category`` / ``Request.Type`` is and whether the matter lies on the public
way (the grid) or inside a residential compound, which place in the sample district its
``Supervisor.District`` / ``Neighborhood`` stands for, and which owner its
``Responsible.Agency`` should be (an owner id, or ``$kind`` resolved at the case's place as
the rules resolve it). A row whose category has no counterpart in our taxonomy is kept,
with ``category=None`` (the replay counts it as unmapped and skips it unless asked).

The data's rows are read at run time; none are copied into the repository.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from shared.domain.owners import OwnerDirectory, OwnerKind
from shared.domain.taxonomy import LEVELS, Location

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "sf311_sample_10k.csv"
MAPPING = Path(__file__).resolve().parent / "sf311_mapping.yaml"
OPENED_FORMAT = "%m/%d/%Y %I:%M:%S %p"
Where = Literal["street", "compound"]
Urgency = Literal["emergency", "urgent", "normal"]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CategoryMap(_Strict):
    """``category: null`` = the matter has no counterpart in our taxonomy."""

    category: str | None
    where: Where = "street"
    urgency: Urgency = "normal"


class RequestTypeMap(CategoryMap):
    sf_category: str
    request_type: str


class Locations(_Strict):
    supervisor_districts: dict[str, str]
    neighbourhoods: dict[str, str] = Field(default_factory=dict)
    default: str


class Mapping(_Strict):
    version: str
    sources: dict[str, str]
    default_channel: str
    categories: dict[str, CategoryMap]
    request_types: list[RequestTypeMap] = Field(default_factory=list)
    locations: Locations
    agencies: dict[str, str | list[str] | None]

    @classmethod
    def load(cls, path: Path | str = MAPPING) -> Mapping:
        return cls.model_validate(yaml.safe_load(Path(path).read_text(encoding="utf-8")))

    def category_of(self, sf_category: str, request_type: str) -> CategoryMap | None:
        for o in self.request_types:
            if o.sf_category == sf_category and o.request_type == request_type:
                return o
        return self.categories.get(sf_category)

    def agency_refs(self, agency: str) -> list[str]:
        """The owner references for an agency: exact key first, then fnmatch patterns."""
        found = self.agencies.get(agency)
        if found is None and agency not in self.agencies:
            found = next(
                (v for k, v in self.agencies.items() if "*" in k and fnmatchcase(agency, k)),
                None,
            )
        if found is None:
            return []
        return [found] if isinstance(found, str) else list(found)

    def place_of(self, district: str, neighbourhood: str) -> str:
        loc = self.locations
        return (
            loc.neighbourhoods.get(neighbourhood)
            or loc.supervisor_districts.get(district.strip())
            or loc.default
        )


@dataclass(frozen=True)
class ReplayRow:
    """One SF 311 row as a submission, with what the data says should happen to it."""

    sf_case_id: str
    opened: datetime  # naive, San Francisco local time, as the data gives it
    sf_category: str
    request_type: str
    channel: str
    category: str | None
    urgency: str
    location: dict[str, str | None]
    agency: str
    agency_refs: tuple[str, ...]
    title: str
    description: str
    transferred: bool  # "Case Transferred" in the notes: a department handed it on
    duplicate: bool  # the notes call it a duplicate

    def body(self, external_id: str, labels: dict[str, str]) -> dict[str, object]:
        """The ``POST /v1/cases`` body (``CaseCreate``)."""
        label = labels.get(self.category or "", self.sf_category)
        return {
            "external_id": external_id,
            "category": self.category or "unclassified",
            "title": f"{label}（SF311 {self.title}）"[:200],
            "description": self.description,
            "location": self.location,
            "urgency": self.urgency,
        }


def location_for(place: str, where: Where) -> dict[str, str | None]:
    """The submitted location, every level as a full path (intake's ``LocationIn`` names all
    five): down to the compound for matters inside it, else to its grid."""
    parts = place.split(".")
    if where == "street" and len(parts) == 5:
        parts = parts[:4]
    return Location(**{LEVELS[len(parts) - 1]: ".".join(parts)}).by_level()


def map_row(raw: dict[str, str], mapping: Mapping) -> ReplayRow:
    """One CSV row (``csv.DictReader``) as a :class:`ReplayRow`."""
    sf_category = raw.get("Category", "").strip()
    request_type = raw.get("Request.Type", "").strip()
    found = mapping.category_of(sf_category, request_type)
    category = found.category if found else None
    where: Where = found.where if found else "street"
    place = mapping.place_of(raw.get("Supervisor.District", ""), raw.get("Neighborhood", ""))
    notes = raw.get("Status.Notes", "").lower()
    details = raw.get("Request.Details", "").strip()
    address = raw.get("Address", "").strip()
    agency = raw.get("Responsible.Agency", "").strip()
    description = "；".join(
        p for p in (details, f"地址 {address}" if address else "", f"SF311 #{raw['CaseID']}") if p
    )
    return ReplayRow(
        sf_case_id=raw["CaseID"].strip(),
        opened=datetime.strptime(raw["Opened"].strip(), OPENED_FORMAT),
        sf_category=sf_category,
        request_type=request_type,
        channel=mapping.sources.get(raw.get("Source", "").strip(), mapping.default_channel),
        category=category,
        urgency=found.urgency if found else "normal",
        location=location_for(place, where),
        agency=agency,
        agency_refs=tuple(mapping.agency_refs(agency)),
        title=request_type or sf_category or "?",
        description=description[:5000],
        transferred="case transferred" in notes,
        duplicate="duplicate" in notes,
    )


def read_rows(path: Path | str, mapping: Mapping) -> Iterator[ReplayRow]:
    """Every row of the CSV, in file order (the sample's own random order)."""
    with open(path, newline="", encoding="utf-8") as f:
        for raw in csv.DictReader(f):
            yield map_row(raw, mapping)


def expected_owner(row: ReplayRow, directory: OwnerDirectory) -> str | None:
    """The owner the data names, in our directory: the first reference that resolves."""
    where = Location(**row.location)
    for ref in row.agency_refs:
        if ref.startswith("$"):
            owner = directory.serving(OwnerKind(ref[1:]), where)
        else:
            owner = directory.get(ref)
        if owner is not None:
            return owner.id
    return None
