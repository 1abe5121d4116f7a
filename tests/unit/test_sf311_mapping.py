"""The SF 311 replay's mapping file agrees with our taxonomy, directory and places, and the
parser turns rows into valid submissions. Rows here are invented in the data's format;
no row of the real sample is copied."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import pytest

from bench.sf311 import Mapping, ReplayRow, expected_owner, map_row, read_rows
from services.intake.schemas import CaseCreate
from shared.auth.keys import CHANNELS
from shared.domain.owners import OwnerDirectory, OwnerKind
from shared.domain.routing import RuleSet
from shared.domain.taxonomy import Location
from shared.settings import Settings

HEADER = [
    "CaseID", "Opened", "Closed", "Updated", "Status", "Status.Notes", "Responsible.Agency",
    "Category", "Request.Type", "Request.Details", "Address", "Supervisor.District",
    "Neighborhood", "Point", "Source",
]  # fmt: skip


@pytest.fixture(scope="module")
def mapping() -> Mapping:
    return Mapping.load()


@pytest.fixture(scope="module")
def directory() -> OwnerDirectory:
    return OwnerDirectory.load(Settings().owners_file)


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return RuleSet.load(Settings().rules_file)


def known_places(directory: OwnerDirectory) -> set[str]:
    """Every path the directory names (areas and compounds) and all their ancestors."""
    paths = {o.area for o in directory.all()} | {c for o in directory.all() for c in o.compounds}
    return {".".join(p.split(".")[:i]) for p in paths if p for i in range(1, len(p.split(".")) + 1)}


def row(**given: str) -> dict[str, str]:
    base = dict.fromkeys(HEADER, "")
    base |= {"CaseID": "900001", "Opened": "03/04/2015 07:08:09 PM", "Source": "Voice In"}
    return base | given


def test_every_mapped_category_is_in_the_taxonomy(mapping: Mapping, rules: RuleSet) -> None:
    mapped = {c.category for c in mapping.categories.values()} | {
        o.category for o in mapping.request_types
    }
    missing = {c for c in mapped if c is not None} - set(rules.categories)
    assert not missing


def test_every_channel_is_one_a_key_can_have(mapping: Mapping) -> None:
    assert set(mapping.sources.values()) | {mapping.default_channel} <= set(CHANNELS)


def test_every_expected_owner_is_in_the_directory(
    mapping: Mapping, directory: OwnerDirectory
) -> None:
    refs = {r for agency in mapping.agencies for r in mapping.agency_refs(agency)}
    assert refs, "the mapping names no owner at all"
    for ref in refs:
        if ref.startswith("$"):
            kind = OwnerKind(ref[1:])  # ValueError for a kind that does not exist
            assert any(o.kind is kind for o in directory.all()), ref
        else:
            assert directory.get(ref) is not None, ref


def test_every_place_is_in_the_sample_district(mapping: Mapping, directory: OwnerDirectory) -> None:
    """Named by the directory, or (光明小区: no firm serves it, so no owner lists it) a
    well-formed place inside a community the directory has a secretary for."""
    loc = mapping.locations
    places = {*loc.supervisor_districts.values(), *loc.neighbourhoods.values(), loc.default}
    communities = {o.area for o in directory.all() if o.kind is OwnerKind.COMMUNITY}
    for place in places - known_places(directory):
        Location(compound=place)  # ValueError unless a well-formed compound path
        assert ".".join(place.split(".")[:3]) in communities, place


def test_a_street_matter_names_the_grid_and_goes_to_city_management(
    mapping: Mapping, directory: OwnerDirectory
) -> None:
    r = map_row(
        row(
            Category="Street and Sidewalk Cleaning",
            **{"Request.Type": "Bulky Items", "Supervisor.District": "1"},
            **{"Responsible.Agency": "Recology_Something", "Request.Details": "sofa"},
        ),
        mapping,
    )
    assert r.category == "sanitation.garbage"
    assert r.channel == "hotline_12345"
    assert r.location["grid"] == "d01.s01.c01.g01"
    assert r.location["compound"] is None
    assert r.opened == datetime(2015, 3, 4, 19, 8, 9)
    assert expected_owner(r, directory) == "d01-s01-zfd"  # Recology_* → $city_management


def test_a_request_type_override_sets_category_place_and_urgency(
    mapping: Mapping, directory: OwnerDirectory
) -> None:
    r = map_row(
        row(
            Category="SFHA Requests",
            Source="Open311",
            **{"Request.Type": "SFHA Priority - Emergency", "Supervisor.District": "7"},
            **{"Responsible.Agency": "Housing Authority SR Queue"},
        ),
        mapping,
    )
    assert (r.category, r.urgency, r.channel) == ("property.repair", "emergency", "open311")
    assert r.location["compound"] == "d01.s01.c02.g01.k01"
    # 光明小区 has no property firm: the estate's manager falls back to the community
    assert expected_owner(r, directory) == "d01-s01-c02-sq"


def test_an_unknown_matter_is_kept_unmapped_and_notes_are_read(mapping: Mapping) -> None:
    r = map_row(
        row(
            Category="Something New",
            **{"Status.Notes": "Case Transferred - to another dept; duplicate of 1"},
            **{"Responsible.Agency": "311 Supervisor Queue", "Supervisor.District": ""},
        ),
        mapping,
    )
    assert r.category is None
    assert r.agency_refs == ()
    assert r.transferred and r.duplicate
    assert r.location["district"] == "d01" and r.location["street"] is None


def test_every_body_is_a_valid_submission(mapping: Mapping, rules: RuleSet) -> None:
    rows = [
        map_row(row(Category="Streetlights", **{"Supervisor.District": "10"}), mapping),
        map_row(row(Category="Unknown", **{"Request.Details": "x" * 6000}), mapping),
    ]
    for r in rows:
        body = CaseCreate.model_validate(r.body("sf-t-1", dict(rules.categories)))
        Location(**body.location.model_dump())
    assert rows[0].body("e", dict(rules.categories))["title"] == "路灯损坏（SF311 Streetlights）"
    assert rows[1].body("e", {})["category"] == "unclassified"


def test_the_parser_reads_a_csv_file(mapping: Mapping, tmp_path: Path) -> None:
    path = tmp_path / "sample.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=HEADER)
        w.writeheader()
        w.writerow(row(CaseID="1", Category="Litter Receptacles"))
        w.writerow(row(CaseID="2", Category="Abandoned Vehicle", Source="Twitter"))
    got: list[ReplayRow] = list(read_rows(path, mapping))
    assert [(r.sf_case_id, r.category, r.channel) for r in got] == [
        ("1", "sanitation.garbage", "hotline_12345"),
        ("2", None, "wechat"),
    ]
