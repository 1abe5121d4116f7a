"""A supervisor's area: its owner's area in the owner directory, and what lies inside it."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

import pytest

from shared.auth.keys import ApiKey, Role
from shared.auth.scope import Area, area_of, location_path
from shared.domain.owners import OwnerDirectory

OWNERS = OwnerDirectory.load(Path(__file__).resolve().parents[2] / "config" / "owners.yaml")
XINGFU = {"district": "d01", "street": "s01", "community": "c01", "grid": "g01", "compound": "k01"}


def key(role: Role, owner: str | None = None) -> ApiKey:
    return ApiKey(id=uuid4(), role=role, channel=None, owner_id=owner)


def test_a_street_office_supervises_its_street_a_district_bureau_its_district() -> None:
    street = area_of(key(Role.SUPERVISOR, "d01-s01-jd"), OWNERS)
    district = area_of(key(Role.SUPERVISOR, "d01-xfb"), OWNERS)
    assert street == Area("d01.s01") and street.covers_location(XINGFU)
    assert not area_of(key(Role.SUPERVISOR, "d01-s02-jd"), OWNERS).covers_location(XINGFU)
    assert district.covers_location(XINGFU) and district.covers_location({"street": "d01.s02"})
    assert area_of(key(Role.SUPERVISOR, "city-xfj"), OWNERS).unlimited


def test_a_supervisor_of_an_owner_the_directory_does_not_know_sees_nothing() -> None:
    nowhere = area_of(key(Role.SUPERVISOR, "no-such-office"), OWNERS)
    assert not nowhere.unlimited and not nowhere.covers_location(XINGFU)
    assert nowhere.report_area("") is None and nowhere.report_area("d01") is None


@pytest.mark.parametrize("role", [Role.OPS, Role.ADMIN, Role.CHANNEL, Role.DEPARTMENT])
def test_other_roles_are_not_limited_by_area(role: Role) -> None:
    assert area_of(key(role, "d01-s02-jd" if role is Role.DEPARTMENT else None), OWNERS).unlimited


def test_locations_are_compared_as_full_paths_whatever_form_they_were_given_in() -> None:
    street = Area("d01.s01")
    assert location_path(XINGFU) == "d01.s01.c01.g01.k01"
    assert street.covers_location({"compound": "d01.s01.c01.g01.k01"})
    assert not street.covers_location({"district": "d01"}), "the district is more than the street"
    assert not street.covers_location({"street": "d01.s011"}), "a prefix of a segment is not inside"
    assert not street.covers_location({"street": "s01"}), "a code without its parent is no place"
    assert not street.covers_location(None)


def test_a_report_covers_the_supervisors_area_or_a_part_of_it() -> None:
    street = Area("d01.s01")
    assert street.report_area("") == "d01.s01"
    assert street.report_area("d01.s01.c01") == "d01.s01.c01"
    assert street.report_area("d01") is None and street.report_area("d01.s02") is None
    assert Area().report_area("d01.s02") == "d01.s02"
