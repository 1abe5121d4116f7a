"""Where a key may look: a supervisor within its office's area, ops and admin everywhere.

A supervisor key is bound to an owner; its area is that owner's ``area`` in the owner
directory (``config/owners.yaml``): a street office supervises its street (``d01.s01``,
its communities and everything in them), a district bureau its district, the city bureau
the whole city (``""``). A supervisor key bound to an owner the directory does not know
sees nothing. Channels and departments are scoped by other rules (their channel, their
dispatches), so :func:`area_of` gives them no area limit: each route applies those.

Out of area reads answer 404 (one thing) or leave the item out (lists), so a supervisor
learns nothing about another area; a report for an area outside its own is 403.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.auth.keys import ApiKey, Role
from shared.domain.owners import OwnerDirectory
from shared.domain.taxonomy import LEVELS, Location, within

OUT_OF_AREA = "超出本单位辖区 (outside your area)"


@dataclass(frozen=True)
class Area:
    """``path`` None: no limit; ``known`` False: the key's owner is unknown, nothing is in it."""

    path: str | None = None
    known: bool = True

    @property
    def unlimited(self) -> bool:
        return self.known and self.path in (None, "")

    def covers(self, path: str | None) -> bool:
        """True when the location path lies inside this area."""
        if self.unlimited:
            return True
        if not self.known or path is None or self.path is None:
            return False
        return within(path, self.path)

    def covers_location(self, location: Mapping[str, Any] | None) -> bool:
        """The same for a stored location (levels as full paths or one-segment codes)."""
        if self.unlimited:
            return True
        return self.covers(location_path(location))

    def report_area(self, asked: str) -> str | None:
        """The area a report may cover: ``asked`` when it lies inside this one (nothing
        asked: all of this one), None when it reaches outside."""
        if self.unlimited:
            return asked
        if not self.known or self.path is None:
            return None
        if asked == "":
            return self.path
        return asked if within(asked, self.path) else None


def location_path(location: Mapping[str, Any] | None) -> str | None:
    """The most specific full path of a stored location, None when it is not one."""
    given = {k: v for k, v in (location or {}).items() if k in LEVELS and v not in (None, "")}
    try:
        return Location(**given).path() or None
    except ValueError:
        return None


def area_of(key: ApiKey, owners: OwnerDirectory) -> Area:
    """The area a key's reads are limited to (only supervisors are limited by area)."""
    if key.role is not Role.SUPERVISOR:
        return Area()
    owner = owners.get(key.owner_id) if key.owner_id else None
    return Area(owner.area) if owner is not None else Area(known=False)
