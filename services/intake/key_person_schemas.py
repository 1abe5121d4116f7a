"""Request and response schemas of the key-person registry and of persons (一人多号)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.domain.key_persons import ConversionRole, KeyPersonState, VisitKind
from shared.web.fields import PETITIONER_REF, Text

Ref = Annotated[str, Field(pattern=PETITIONER_REF, description="诉求人编号 (p_…)")]
Reason = Annotated[Text, Field(min_length=1, max_length=500, description="原因")]
Name = Annotated[Text, Field(min_length=1, max_length=100)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KeyPersonEnter(_In):
    """Enter a person by hand (e.g. 情绪较激动); any of their refs names them."""

    petitioner_ref: Ref
    reason: Reason


class KeyPersonReview(_In):
    note: Reason = Field(description="复核意见")
    next_review_on: date | None = Field(
        default=None, description="下次复核日期（不填：按规则周期）"
    )


class KeyPersonLeave(_In):
    reason: Reason = Field(description="出库原因")


class Team(_In):
    """1+1+1: a cadre, a grid worker, a volunteer or party member (names or ids)."""

    cadre: Name = Field(description="社区干部")
    grid_worker: Name = Field(description="网格员")
    volunteer: Name = Field(description="志愿者或党员")


class PlanIn(_In):
    """一人一策."""

    matter: Annotated[Text, Field(min_length=1, max_length=1000, description="诉求事项")]
    measures: list[Annotated[Text, Field(min_length=1, max_length=500)]] = Field(
        min_length=1, max_length=20, description="帮扶措施"
    )
    team: Team
    review_on: date = Field(description="计划复核日期")


class PlanRead(BaseModel):
    matter: str
    measures: list[str]
    team: Team
    review_on: date
    made_by: str
    made_at: datetime


class VisitIn(_In):
    kind: VisitKind = Field(description="上门走访 / 节日慰问 / 心理疏导 / 回访")
    visited_at: datetime = Field(description="走访时间（带时区）")
    visitors: list[Name] = Field(min_length=1, max_length=10, description="走访人")
    method: Annotated[Text, Field(min_length=1, max_length=100, description="方式，如 上门、电话")]
    outcome: Annotated[Text, Field(min_length=1, max_length=1000, description="结果")]
    minutes: Annotated[Text, Field(max_length=5000, description="走访记录")] = ""
    case_id: UUID | None = Field(default=None, description="关于哪一件诉求（可选，须为此人的）")


class VisitRead(BaseModel):
    visit_id: UUID
    kind: VisitKind
    kind_label: str
    visited_at: datetime
    visitors: list[str]
    method: str
    outcome: str
    minutes: str
    case_id: UUID | None
    recorded_by: str


class ConversionIn(_In):
    role: ConversionRole = Field(description="议事会成员 / 监督员 / 志愿者")
    since: date
    note: Annotated[Text, Field(max_length=500)] = ""


class ConversionRead(BaseModel):
    petitioner_ref: str
    role: ConversionRole
    role_label: str
    since: date
    note: str
    recorded_by: str
    recorded_at: datetime


class HistoryRow(BaseModel):
    at: datetime
    actor: str
    action: str
    reason: str | None
    detail: dict[str, object] | None


class KeyPersonCase(BaseModel):
    case_id: UUID
    channel: str
    category: str
    title: str
    status: str
    status_label: str
    received_at: datetime
    received_by: str | None


class KeyPersonRead(BaseModel):
    """一人一档: a key person's file, with no raw personal data (phone masked)."""

    petitioner_ref: str = Field(description="此人的编号（其各号码之一）")
    masked_phone: str | None
    reason: str
    entered_at: datetime
    entered_by: str = Field(description="rule（规则）或录入人")
    state: KeyPersonState
    state_label: str
    review_due: date | None
    review_is_due: bool
    left_at: datetime | None = None
    left_reason: str | None = None
    petitions: int
    cases: list[KeyPersonCase]
    plan: PlanRead | None = None
    visits: list[VisitRead] = Field(default_factory=list)
    conversions: list[ConversionRead] = Field(default_factory=list)
    history: list[HistoryRow] = Field(default_factory=list)


class PersonRefRead(BaseModel):
    ref: str
    kind: str = Field(description="phone / id_number / name_address / petitioner")
    linked_at: datetime | None
    source: str | None


class PersonRead(BaseModel):
    person_ref: str
    refs: list[PersonRefRead]
    petitions: int
    key_person: bool


class PersonMerge(_In):
    refs: list[Ref] = Field(min_length=2, max_length=10, description="第一个为保留的人")
    reason: Reason


class PersonSplit(_In):
    refs: list[Ref] = Field(min_length=1, max_length=10, description="拆出为另一人的号码")
    reason: Reason


class SplitRead(BaseModel):
    person_ref: str
    split_into: str
