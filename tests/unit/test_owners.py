"""The owner directory: the shipped sample city, lookups, and refusal of bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.domain.errors import ConfigError
from shared.domain.owners import OwnerDirectory, OwnerKind
from shared.domain.taxonomy import Location

OWNERS = Path(__file__).resolve().parents[2] / "config" / "owners.yaml"
XINGFULI = "d01.s01.c01.g01.k01"  # 幸福里小区
HEPINGLI = "d01.s02.c01.g01.k01"  # 和平里小区
GUANGMING = "d01.s01.c02.g01.k01"  # 光明小区: no property firm


@pytest.fixture(scope="module")
def directory() -> OwnerDirectory:
    return OwnerDirectory.load(OWNERS)


def test_the_shipped_directory_loads_with_a_version(directory: OwnerDirectory) -> None:
    assert directory.version.startswith("2026.1+")
    assert {o.kind for o in directory.all()} == set(OwnerKind)


def test_every_owner_escalates_up_to_the_city(directory: OwnerDirectory) -> None:
    for owner in directory.all():
        assert directory.chain(owner.id)[-1].id == "city-xfj", owner.id


def test_a_community_climbs_street_district_city(directory: OwnerDirectory) -> None:
    ladder = [o.id for o in directory.chain("d01-s01-c01-sq")]
    assert ladder == ["d01-s01-c01-sq", "d01-s01-jd", "d01-xfb", "city-xfj"]


def test_a_property_firm_answers_to_the_housing_authority(directory: OwnerDirectory) -> None:
    assert [o.id for o in directory.chain("wy-xingfu")][:2] == ["wy-xingfu", "d01-zjw"]


def test_firms_are_found_by_the_compounds_they_serve(directory: OwnerDirectory) -> None:
    assert directory.property_firm_for(XINGFULI).id == "wy-xingfu"
    assert directory.property_firm_for(HEPINGLI).id == "wy-jinxiu"
    assert directory.maintenance_unit_for(HEPINGLI).id == "wb-hengtong"
    assert directory.property_firm_for(GUANGMING) is None


def test_the_deepest_area_serves_first(directory: OwnerDirectory) -> None:
    in_s01 = Location(compound=XINGFULI)
    in_s02 = Location(compound=HEPINGLI)
    assert directory.serving(OwnerKind.CITY_MANAGEMENT, in_s01).id == "d01-s01-zfd"
    assert directory.serving(OwnerKind.CITY_MANAGEMENT, in_s02).id == "d01-cgw"
    assert directory.serving(OwnerKind.POLICE, in_s02).id == "d01-s02-pcs"


def test_nothing_serves_a_place_nobody_covers(directory: OwnerDirectory) -> None:
    assert directory.serving(OwnerKind.COMMUNITY, Location(district="d01")) is None
    assert directory.serving(OwnerKind.PROPERTY_FIRM, Location(district="d01")) is None


def test_the_local_ladder_of_a_place(directory: OwnerDirectory) -> None:
    ladder = [o.id for o in directory.ladder_for(Location(compound=GUANGMING))]
    assert ladder == ["d01-s01-c02-sq", "d01-s01-jd", "d01-xfb", "city-xfj"]


def test_unknown_ids_are_none_and_have_no_chain(directory: OwnerDirectory) -> None:
    assert directory.get("nobody") is None and directory.chain("nobody") == []


# --- bad files ---------------------------------------------------------------------------------
GOOD = """\
version: "t1"
owners:
  - id: city
    name: 市信访局
    kind: city_petition_bureau
  - id: district
    name: 区信访办
    kind: district_petition_bureau
    area: d01
    parent: city
  - id: firm
    name: 物业
    kind: property_firm
    area: d01
    compounds: [d01.s01.c01.g01.k01]
    parent: district
"""


def _error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        OwnerDirectory.from_text(text, file="owners.yaml")
    return info.value


def test_the_minimal_good_file_loads() -> None:
    assert [o.id for o in OwnerDirectory.from_text(GOOD).chain("firm")] == [
        "firm", "district", "city"
    ]  # fmt: skip


def test_a_duplicate_id_names_the_owner_field_and_line() -> None:
    err = _error(GOOD + "  - id: firm\n    name: 又一个\n    kind: police\n")
    assert (err.file, err.entry, err.field, err.line) == ("owners.yaml", "firm", "id", 17)
    assert "duplicate" in str(err) and "owners.yaml:17" in str(err)


def test_an_unknown_parent_is_refused() -> None:
    err = _error(GOOD.replace("parent: district", "parent: nowhere"))
    assert (err.entry, err.field, err.line) == ("firm", "parent", 16)


def test_a_parent_cycle_is_refused() -> None:
    text = GOOD.replace(
        "    kind: city_petition_bureau\n", "    kind: city_petition_bureau\n    parent: firm\n"
    )
    err = _error(text)
    assert err.field == "parent" and "cycle" in err.problem


def test_a_compound_served_by_two_firms_is_refused() -> None:
    extra = "  - id: firm2\n    name: 物业二\n    kind: property_firm\n    compounds: [d01.s01.c01.g01.k01]\n"
    err = _error(GOOD + extra)
    assert (err.entry, err.field) == ("firm2", "compounds") and "firm" in err.problem


def test_only_firms_list_compounds() -> None:
    err = _error(GOOD.replace("kind: property_firm", "kind: police"))
    assert (err.entry, err.field) == ("firm", "compounds")


def test_an_unknown_kind_names_the_field_and_line() -> None:
    err = _error(GOOD.replace("kind: property_firm", "kind: wizard"))
    assert (err.entry, err.field, err.line) == ("firm", "kind", 13)


def test_a_compound_must_be_a_full_compound_path() -> None:
    err = _error(GOOD.replace("[d01.s01.c01.g01.k01]", "[k01]"))
    assert (err.entry, err.field) == ("firm", "compounds") and "5" in err.problem


def test_an_unknown_field_is_refused() -> None:
    err = _error(
        GOOD.replace(
            "    area: d01\n    parent: city", "    area: d01\n    phone: 110\n    parent: city"
        )
    )
    assert (err.entry, err.field) == ("district", "phone")


def test_a_file_without_owners_is_refused() -> None:
    assert "owners" in _error("version: x\n").problem


def test_a_yaml_syntax_error_gives_the_line() -> None:
    err = _error("owners:\n  - id: a\n    name: [unclosed\n")
    assert err.line is not None and "YAML" in err.problem


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        OwnerDirectory.load(tmp_path / "missing.yaml")
