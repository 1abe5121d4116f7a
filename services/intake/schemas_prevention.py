"""Request and response schemas of prevention work (grid patrols, risks, campaigns, 回头看)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.intake.schemas import LocationIn
from shared.domain.taxonomy import path_problem
from shared.web.fields import CATEGORY, Text

CODE = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
WorkerId = Field(min_length=1, max_length=64, pattern=CODE, description="网格员编号")
CampaignId = Field(
    default=None, min_length=1, max_length=64, pattern=CODE, description="专项排查编号"
)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _checked_path(path: str, level: str | None = None) -> str:
    problem = path_problem(path, level)
    if problem:
        raise ValueError(problem)
    return path


class GridWorkerPut(_In):
    name: Text = Field(min_length=1, max_length=50, description="姓名")
    grid: str = Field(max_length=128, description="负责网格的完整路径，如 d01.s01.c01.g01")

    @model_validator(mode="after")
    def _grid(self) -> GridWorkerPut:
        _checked_path(self.grid, "grid")
        return self


class GridWorkerRead(BaseModel):
    worker_id: str
    name: str
    grid: str
    updated_at: datetime


class FindingIn(_In):
    text: Text = Field(min_length=1, max_length=500, description="发现的问题")
    category: str | None = Field(default=None, max_length=64, pattern=CATEGORY)


class MediationIn(_In):
    outcome: Text = Field(min_length=1, max_length=2000, description="当场调解结果")
    case_id: UUID | None = Field(
        default=None, description="已以 mediated_on_site 提交的网格巡查诉求（同一件只计一次）"
    )


class PatrolCreate(_In):
    """One grid worker's patrol of one grid on one day (每日一巡查)."""

    worker_id: str = WorkerId
    grid: str | None = Field(default=None, max_length=128, description="默认为网格员负责的网格")
    day: date = Field(description="巡查日期（北京时间）")
    households_visited: int = Field(ge=0, le=5000, description="走访住户数")
    minutes: int | None = Field(default=None, ge=0, le=1440, description="巡查时长（分钟）")
    campaign_id: str | None = CampaignId
    findings: list[FindingIn] = Field(default_factory=list, max_length=50)
    mediations: list[MediationIn] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _grid(self) -> PatrolCreate:
        if self.grid is not None:
            _checked_path(self.grid, "grid")
        linked = [m.case_id for m in self.mediations if m.case_id]
        if len(linked) != len(set(linked)):
            raise ValueError("mediations 中同一诉求出现多次 (a case named twice)")
        return self


class PatrolRead(BaseModel):
    patrol_id: UUID
    worker_id: str
    grid: str
    day: date
    households_visited: int
    minutes: int | None
    campaign_id: str | None
    findings: list[FindingIn]
    mediations: list[MediationIn]
    recorded_by: str
    recorded_at: datetime


class RiskCreate(_In):
    """A 矛盾隐患记录表 entry: seen, not yet a petition."""

    location: LocationIn
    address: Text | None = Field(default=None, min_length=1, max_length=200)
    category: str | None = Field(default=None, max_length=64, pattern=CATEGORY)
    description: Text = Field(min_length=1, max_length=2000, description="隐患情况")
    seen_by: str = WorkerId
    seen_on: date = Field(description="发现日期")
    follow_up_on: date = Field(description="跟进日期")
    campaign_id: str | None = CampaignId
    patrol_id: UUID | None = None

    @model_validator(mode="after")
    def _dates(self) -> RiskCreate:
        if self.follow_up_on < self.seen_on:
            raise ValueError("follow_up_on 不能早于 seen_on（跟进日期早于发现日期）")
        return self


class RiskClose(_In):
    outcome: Text = Field(min_length=1, max_length=2000, description="化解结果")


class RiskToCase(_In):
    """What the case needs beyond the risk (its category, when the risk has none)."""

    category: str | None = Field(default=None, max_length=64, pattern=CATEGORY)
    title: Text | None = Field(default=None, min_length=1, max_length=200)
    urgency: Literal["emergency", "urgent", "normal"] = "normal"


class RiskRead(BaseModel):
    risk_id: UUID
    path: str
    location: dict[str, str | None]
    address: str | None
    category: str | None
    description: str
    seen_by: str
    seen_on: date
    follow_up_on: date
    campaign_id: str | None
    patrol_id: UUID | None
    state: str
    state_label: str
    outcome: str | None
    case_id: UUID | None
    created_at: datetime
    closed_at: datetime | None


class CampaignArea(_In):
    path: str = Field(max_length=128, description="区域路径（社区、网格或小区）")
    households: int = Field(ge=1, le=1_000_000, description="应覆盖住户数")

    @model_validator(mode="after")
    def _path(self) -> CampaignArea:
        _checked_path(self.path)
        if not self.path:
            raise ValueError("区域路径不能为空 (path required)")
        return self


class CampaignPut(_In):
    """A quarterly theme (专项排查): 供暖, 物业费, 电动车充电 …"""

    theme: Text = Field(min_length=1, max_length=100, description="主题")
    starts_on: date
    ends_on: date = Field(description="结束日期（含）")
    areas: list[CampaignArea] = Field(min_length=1, max_length=100)

    @model_validator(mode="after")
    def _period(self) -> CampaignPut:
        if self.ends_on < self.starts_on or (self.ends_on - self.starts_on).days > 366:
            raise ValueError("ends_on 须不早于 starts_on，且不超过一年 (period)")
        paths = [a.path for a in self.areas]
        if len(paths) != len(set(paths)):
            raise ValueError("areas 中区域重复 (an area twice)")
        return self


class AreaCoverageRead(BaseModel):
    path: str
    households: int
    visited: int
    covered: int


class CampaignRead(BaseModel):
    campaign_id: str
    theme: str
    starts_on: date
    ends_on: date
    areas: list[AreaCoverageRead]
    households_to_cover: int
    households_covered: int
    coverage_rate: float | None = Field(description="住户覆盖率（每区域以应覆盖数为上限）")
    findings: int = Field(description="标注本专项的巡查发现")
    risks: int = Field(description="标注本专项的隐患")
    cases: int = Field(description="标注本专项的诉求")


class RevisitDue(BaseModel):
    case_id: UUID
    case_number: str | None
    category: str
    title: str
    path: str | None
    closed_at: datetime
    due_on: date


class RevisitCreate(_In):
    outcome: Literal["settled", "alive"] = Field(
        description="settled 已平息 / alive 问题仍在（按回弹件重新受理）"
    )
    method: Literal["phone", "visit"] = Field(description="phone 电话 / visit 上门")
    note: Text = Field(min_length=1, max_length=2000, description="回头看情况")


class RevisitRead(BaseModel):
    case_id: UUID
    outcome: str
    method: str
    note: str
    rebound_case_id: UUID | None = Field(description="问题仍在时新受理的回弹件")
    recorded_at: datetime
