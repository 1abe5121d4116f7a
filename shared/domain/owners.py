"""The owner directory (责任单位名录): who handles matters where, and who stands above them.

Data, not code: ``config/owners.yaml`` lists every owner with its kind, the area it serves
(a location path, see :mod:`shared.domain.taxonomy`; "" is the whole city), the compounds a
property firm or maintenance unit serves, its escalation parent and its webhook. Loading
refuses a file with duplicate ids, unknown parents, a cycle in the parent chain, or a
compound served by two firms of one kind, naming the file, owner, field and line.

"The owner of kind K serving a location" (``serving``) is how rules say "the property firm
of the compound" (``$property_firm``) or "the community of the case" (``$community``):
firms by the compounds they list, everyone else by the deepest area that contains the
case's location (a street's own city-management team before the district's).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared.domain.errors import YamlSource, read_operator_file
from shared.domain.taxonomy import Location, path_problem, within


class OwnerKind(StrEnum):
    PROPERTY_FIRM = "property_firm"  # 物业服务企业
    MAINTENANCE_UNIT = "maintenance_unit"  # 电梯维保单位
    CITY_MANAGEMENT = "city_management"  # 城管 / 综合行政执法
    FIRE_BRIGADE = "fire_brigade"  # 消防救援
    HOUSING_AUTHORITY = "housing_authority"  # 住建
    ECOLOGY_ENVIRONMENT = "ecology_environment"  # 生态环境
    AGRICULTURE_RURAL = "agriculture_rural"  # 农业农村 (犬只免疫)
    MEDICAL_INSURANCE = "medical_insurance"  # 医保
    MARKET_REGULATION = "market_regulation"  # 市场监管 (特种设备)
    POLICE = "police"  # 派出所
    JUDICIAL_OFFICE = "judicial_office"  # 司法所 (人民调解)
    MEDIATION_COMMITTEE = "mediation_committee"  # 调解工作室 / 人民调解委员会
    COMMUNITY = "community"  # 社区居委会: the first rung
    STREET_OFFICE = "street_office"  # 街道办事处
    DISTRICT_PETITION_BUREAU = "district_petition_bureau"  # 区信访办
    CITY_PETITION_BUREAU = "city_petition_bureau"  # 市信访局


KIND_LABELS: dict[OwnerKind, str] = {
    OwnerKind.PROPERTY_FIRM: "物业服务企业", OwnerKind.MAINTENANCE_UNIT: "电梯维保单位",
    OwnerKind.CITY_MANAGEMENT: "城管", OwnerKind.FIRE_BRIGADE: "消防",
    OwnerKind.HOUSING_AUTHORITY: "住建", OwnerKind.ECOLOGY_ENVIRONMENT: "生态环境",
    OwnerKind.AGRICULTURE_RURAL: "农业农村", OwnerKind.MEDICAL_INSURANCE: "医保",
    OwnerKind.MARKET_REGULATION: "市场监管", OwnerKind.POLICE: "派出所",
    OwnerKind.JUDICIAL_OFFICE: "司法所", OwnerKind.MEDIATION_COMMITTEE: "调解组织",
    OwnerKind.COMMUNITY: "社区", OwnerKind.STREET_OFFICE: "街道",
    OwnerKind.DISTRICT_PETITION_BUREAU: "区信访办", OwnerKind.CITY_PETITION_BUREAU: "市信访局",
}  # fmt: skip
COMPOUND_KINDS = frozenset({OwnerKind.PROPERTY_FIRM, OwnerKind.MAINTENANCE_UNIT})
LADDER_KINDS = (
    OwnerKind.COMMUNITY,
    OwnerKind.STREET_OFFICE,
    OwnerKind.DISTRICT_PETITION_BUREAU,
    OwnerKind.CITY_PETITION_BUREAU,
)


class Owner(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str = Field(min_length=1)
    kind: OwnerKind
    area: str = ""
    compounds: list[str] = Field(default_factory=list)
    parent: str | None = None
    webhook_url: str | None = Field(default=None, pattern=r"^https?://")

    @field_validator("area")
    @classmethod
    def _area_is_a_path(cls, value: str) -> str:
        problem = path_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("compounds")
    @classmethod
    def _compounds_are_compound_paths(cls, value: list[str]) -> list[str]:
        for path in value:
            problem = path_problem(path, "compound")
            if problem:
                raise ValueError(problem)
        return value


class OwnerDirectory:
    """Owners by id, the firms serving each compound, and each owner's escalation chain."""

    def __init__(self, owners: Iterable[Owner], *, version: str = "") -> None:
        self._owners = {o.id: o for o in owners}
        self.version = version
        self._by_compound: dict[tuple[OwnerKind, str], Owner] = {
            (o.kind, c): o for o in self._owners.values() for c in o.compounds
        }

    @classmethod
    def load(cls, path: Path | str) -> OwnerDirectory:
        text, name = read_operator_file(path)
        return cls.from_text(text, file=name)

    @classmethod
    def from_text(cls, text: str, *, file: str = "<owners>") -> OwnerDirectory:
        src = YamlSource(text, file)
        if not isinstance(src.data, dict) or not isinstance(src.data.get("owners"), list):
            raise src.error("顶层应为含 owners 列表的映射 (expected a mapping with 'owners')")
        owners = [_parse_owner(src, i, item) for i, item in enumerate(src.data["owners"])]
        _check_unique(src, owners)
        _check_parents(src, owners)
        _check_compounds(src, owners)
        digest = hashlib.sha256(text.encode()).hexdigest()[:12]
        return cls(owners, version=f"{src.data.get('version', '0')}+{digest}")

    def get(self, owner_id: str) -> Owner | None:
        return self._owners.get(owner_id)

    def name_of(self, owner_id: str) -> str:
        """The owner's Chinese name for texts people read (the id if it is not listed)."""
        owner = self.get(owner_id)
        return owner.name if owner is not None else owner_id

    def all(self) -> list[Owner]:
        return list(self._owners.values())

    def property_firm_for(self, compound_path: str) -> Owner | None:
        return self._by_compound.get((OwnerKind.PROPERTY_FIRM, compound_path))

    def maintenance_unit_for(self, compound_path: str) -> Owner | None:
        return self._by_compound.get((OwnerKind.MAINTENANCE_UNIT, compound_path))

    def serving(self, kind: OwnerKind, location: Location) -> Owner | None:
        """The owner of ``kind`` for this location: by compound for firms, else deepest area."""
        if kind in COMPOUND_KINDS:
            return self._by_compound.get((kind, location.compound or ""))
        path = location.path()
        candidates = [o for o in self._owners.values() if o.kind is kind and within(path, o.area)]
        return max(candidates, key=lambda o: len(o.area.split(".")) if o.area else 0, default=None)

    def chain(self, owner_id: str) -> list[Owner]:
        """The owner, then its parent, and so on up: the escalation ladder."""
        ladder: list[Owner] = []
        owner = self._owners.get(owner_id)
        while owner is not None and owner not in ladder:
            ladder.append(owner)
            owner = self._owners.get(owner.parent) if owner.parent else None
        return ladder

    def ladder_for(self, location: Location) -> list[Owner]:
        """Community → street office → district petition bureau → city, where each exists."""
        found = (self.serving(kind, location) for kind in LADDER_KINDS)
        return [o for o in found if o is not None]


def _parse_owner(src: YamlSource, index: int, item: Any) -> Owner:
    entry = str(item.get("id")) if isinstance(item, dict) and item.get("id") else f"#{index + 1}"
    try:
        return Owner.model_validate(item)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        step = str(first["loc"][0]) if first["loc"] else None
        path = ("owners", index, step) if step else ("owners", index)
        raise src.error(first["msg"], *path, entry=entry, field=field) from exc


def _check_unique(src: YamlSource, owners: list[Owner]) -> None:
    seen: set[str] = set()
    for i, owner in enumerate(owners):
        if owner.id in seen:
            raise src.error(
                "重复的 id (duplicate id)", "owners", i, "id", entry=owner.id, field="id"
            )
        seen.add(owner.id)


def _check_parents(src: YamlSource, owners: list[Owner]) -> None:
    by_id = {o.id: o for o in owners}
    for i, owner in enumerate(owners):
        if owner.parent is not None and owner.parent not in by_id:
            problem = f"上级单位「{owner.parent}」不存在 (unknown parent)"
            raise src.error(problem, "owners", i, "parent", entry=owner.id, field="parent")
        seen = [owner.id]
        parent = owner.parent
        while parent is not None:
            if parent in seen:
                problem = "上级链成环 (parent cycle): " + " → ".join([*seen, parent])
                raise src.error(problem, "owners", i, "parent", entry=owner.id, field="parent")
            seen.append(parent)
            above = by_id.get(parent)
            parent = above.parent if above else None


def _check_compounds(src: YamlSource, owners: list[Owner]) -> None:
    served: dict[tuple[OwnerKind, str], str] = {}
    for i, owner in enumerate(owners):
        if owner.compounds and owner.kind not in COMPOUND_KINDS:
            problem = "只有物业和维保单位按小区服务 (only firms list compounds)"
            raise src.error(problem, "owners", i, "compounds", entry=owner.id, field="compounds")
        for compound in owner.compounds:
            other = served.setdefault((owner.kind, compound), owner.id)
            if other != owner.id:
                problem = f"小区 {compound} 已由 {other} 服务 (compound already served)"
                raise src.error(
                    problem, "owners", i, "compounds", entry=owner.id, field="compounds"
                )
