"""Request and response schemas of intake's HTTP API (separate from the tables)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from shared.contracts.events import AttachmentInfo, TriageInfo
from shared.domain.intake_rules import CHANNELS, places
from shared.web.fields import AttachmentRef, Text

Code = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")


class LocationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    district: str | None = Code
    street: str | None = Code
    community: str | None = Code
    grid: str | None = Code
    compound: str | None = Code

    @model_validator(mode="after")
    def _at_least_one(self) -> LocationIn:
        values = {k: v for k, v in self.model_dump().items() if v is not None}
        if not values:
            raise ValueError("location 至少需要一级 (district/street/community/grid/compound)")
        places(values)  # levels must agree (d01 › d01.s01 › ...); raises ValueError
        return self


class PointIn(BaseModel):
    """Where the resident is (WGS-84 degrees), e.g. from a phone's location."""

    model_config = ConfigDict(extra="forbid")

    lat: float = Field(ge=-90, le=90, allow_inf_nan=False, description="纬度")
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False, description="经度")


class PetitionerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text | None = Field(default=None, min_length=1, max_length=50)
    phone: Text | None = Field(default=None, pattern=r"^\+?[0-9][0-9 \-]{5,19}$")
    id_number: Text | None = Field(default=None, pattern=r"^[0-9]{17}[0-9Xx]$|^[0-9]{15}$")
    email: Text | None = Field(
        default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", description="电子邮箱"
    )


class RelatedRef(BaseModel):
    """Another channel's number for the same matter (e.g. the 12345 work-order number)."""

    model_config = ConfigDict(extra="forbid")

    channel: Literal[CHANNELS]  # type: ignore[valid-type]
    ref: Text = Field(min_length=1, max_length=64)


class CaseCreate(BaseModel):
    """A submission from one channel. The channel itself comes from the key."""

    model_config = ConfigDict(extra="forbid")

    external_id: Text | None = Field(
        default=None, min_length=1, max_length=64, description="该渠道自己的工单编号"
    )
    channel: Text | None = Field(
        default=None, max_length=32, description="可省略；若填写必须与密钥的渠道一致"
    )
    category: str | None = Field(
        default=None,
        max_length=64,
        pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$",
        description="类别代码；可省略，由分诊模型按标题和内容判断（把握不足时转派单员）",
    )
    title: Text = Field(min_length=1, max_length=200)
    description: Text = Field(min_length=1, max_length=5000)
    location: LocationIn | None = Field(
        default=None,
        description="地点代码；可省略，由地址 address、位置 point 或内容中的地名判断",
    )
    point: PointIn | None = Field(default=None, description="位置（经纬度）")
    address: Text | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="诉求人所说的地址（小区、楼号、单元、门牌），原样保存，供办理单位上门",
    )
    urgency: Literal["emergency", "urgent", "normal"] = "normal"
    petitioner: PetitionerIn | None = None
    received_by: Text | None = Field(
        default=None, min_length=1, max_length=64, description="首问负责人（窗口接待人员）"
    )
    attachments: list[AttachmentRef] = Field(
        default_factory=list,
        max_length=20,
        description="先用 POST /v1/attachments 上传的照片、通话录音、文件的编号",
    )
    # What the attachments are (set by the route from the channel's uploads; not input)
    _attachment_infos: list[AttachmentInfo] = PrivateAttr(default_factory=list)
    related_refs: list[RelatedRef] = Field(
        default_factory=list, max_length=10, description="其他渠道对同一事项的编号（重复件）"
    )
    mediated_on_site: bool = Field(
        default=False, description="网格巡查：当场调解完毕（仅 grid_patrol），直接结案"
    )
    mediation_outcome: Text | None = Field(
        default=None, min_length=1, max_length=2000, description="当场调解的结果"
    )
    campaign_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$",
        description="专项排查编号（在专项排查中发现的诉求）",
    )
    # The explained closure a 回头看 found alive (set by services.intake.revisits; not input)
    _rebound_of: UUID | None = PrivateAttr(default=None)

    # How intake's triage decided what the submission left out (set by intake; not input)
    _triage: TriageInfo | None = PrivateAttr(default=None)

    @property
    def code(self) -> str:
        """The category once decided (given, or set by :mod:`services.intake.triage`)."""
        if self.category is None:
            raise RuntimeError("category not decided: run triage first")
        return self.category

    @property
    def place(self) -> LocationIn:
        """The location once decided (given, or set by :mod:`services.intake.triage`)."""
        if self.location is None:
            raise RuntimeError("location not decided: run triage first")
        return self.location

    @model_validator(mode="after")
    def _mediation_has_outcome(self) -> CaseCreate:
        if self.mediated_on_site and not self.mediation_outcome:
            raise ValueError("mediated_on_site 需要 mediation_outcome（调解结果）")
        return self


class CaseAccepted(BaseModel):
    case_id: UUID
    case_number: str | None = Field(
        default=None, description="诉求编号（可电话告知，如 SB20261207-000123）"
    )
    status: str
    created: bool
    duplicate_of: UUID | None = Field(default=None, description="已关联到的原工单（重复件）")
    suggested_duplicates: list[UUID] = Field(
        default_factory=list, description="疑似重复（匿名件，仅供人工确认，未关联）"
    )
    key_person: bool = False
    rebound_of: UUID | None = Field(
        default=None, description="回弹：六个月内以「解释结案」关闭的同类诉求"
    )
    received_at: datetime


class CaseBatch(BaseModel):
    """POST /v1/cases/batch: cases from one channel, each with its own external_id."""

    model_config = ConfigDict(extra="forbid")

    cases: list[CaseCreate] = Field(min_length=1, max_length=5000)


class BatchItem(BaseModel):
    index: int = Field(description="在请求中的序号（从 0 起）")
    status_code: int = Field(
        description="201 新受理或已关联；200 重复提交（返回第一次的答复）；4xx/5xx 此件未受理"
    )
    case: CaseAccepted | None = Field(default=None, description="受理结果（未受理时为空）")
    detail: str | None = Field(default=None, description="未受理的原因；请单独重发此件")


class BatchAccepted(BaseModel):
    accepted: int = Field(description="新记录的件数 (201)")
    replayed: int = Field(description="此前已记录、本次原样答复的件数 (200)")
    failed: int = Field(default=0, description="未受理的件数（见各件 detail）")
    results: list[BatchItem]


class CaseRef(BaseModel):
    channel: str
    ref: str
    linked: bool = Field(description="false: 首次受理的编号; true: 后来关联的重复件编号")


class CaseStatus(BaseModel):
    case_id: UUID
    case_number: str | None = Field(default=None, description="诉求编号")
    channel: str
    external_id: str | None
    category: str
    title: str
    address: str | None = Field(default=None, description="诉求人所说的地址")
    status: str
    status_label: str
    status_at: datetime
    status_detail: dict[str, Any] | None = None
    received_at: datetime
    received_by: str | None = Field(default=None, description="首问负责人")
    key_person: bool = False
    refs: list[CaseRef] = Field(default_factory=list, description="该事项的全部渠道编号")
    duplicates_linked: int = 0
    suggested_duplicates: list[UUID] = Field(default_factory=list)


class AlertMark(BaseModel):
    """One office's 已收到 / 已处理 of an alert."""

    owner_id: str
    received_at: datetime
    received_by: str
    handled_at: datetime | None = None
    handled_by: str | None = None
    note: str | None = Field(default=None, description="处理情况")


class AlertRead(BaseModel):
    alert_id: UUID
    rule_id: str
    kind: str
    priority: str
    category: str
    level: str
    place: str
    window_start: datetime
    window_end: datetime
    case_count: int
    case_ids: list[UUID]
    notify: list[str]
    convene: list[dict[str, str]]
    raised_at: datetime
    marks: list[AlertMark] = Field(default_factory=list, description="各单位的已收到 / 已处理")
