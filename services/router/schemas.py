"""Response schemas of the router's API."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.domain.taxonomy import ReturnReason
from shared.web.fields import AttachmentRef, Text


class DispatchRead(BaseModel):
    dispatch_id: UUID
    case_id: UUID
    owner_id: str
    role: str
    state: str
    ruleset_version: str
    acknowledge_due_at: datetime
    resolve_due_at: datetime
    progress_due_at: datetime | None
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    created_at: datetime


class TimelineEntry(BaseModel):
    at: datetime
    actor: str
    action: str
    from_state: str | None
    to_state: str | None
    reason: str | None
    rule_version: str | None
    dispatch_id: UUID | None


class CaseAttachmentRead(BaseModel):
    attachment_id: str = Field(description="附件编号：内容的 SHA-256")
    kind: Literal["intake", "progress", "evidence"] = Field(
        description="intake 诉求人提交 / progress 进展附件 / evidence 办结凭证、书面承诺"
    )
    filename: str
    content_type: str = Field(description="按内容判断的类型")
    size: int
    attached_by: str = Field(description="上传方（渠道或单位）")
    attached_at: datetime
    dispatch_id: UUID | None
    url: str = Field(description="下载地址（需有权查看此诉求的密钥）")

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> CaseAttachmentRead:
        url = f"/v1/cases/{row['case_id']}/attachments/{row['attachment_id']}"
        return cls.model_validate({**row, "url": url})


class CaseRead(BaseModel):
    case_id: UUID
    case_number: str | None = Field(default=None, description="诉求编号 (SB20261207-000123)")
    state: str
    state_label: str = Field(default="", description="状态（中文）")
    close_kind: str | None
    channel: str
    category: str
    category_name: str = Field(default="", description="事项类别（中文）")
    title: str
    description: str | None = Field(default=None, description="诉求内容（号码已遮蔽）")
    address: str | None = Field(default=None, description="诉求人所说的地址")
    location: dict[str, Any]
    tier: str | None
    urgency: str
    rule_id: str | None
    ruleset_version: str | None
    received_at: datetime
    dispatches: list[DispatchRead]
    timeline: list[TimelineEntry]
    attachments: list[CaseAttachmentRead] = Field(
        default_factory=list, description="附件：照片、通话录音、文件（只列信息，不含内容）"
    )


class RoutingRead(BaseModel):
    case_id: UUID
    decided_at: datetime
    ruleset_version: str
    decision: dict[str, Any]


class OwnerRead(BaseModel):
    id: str
    name: str
    kind: str
    area: str = Field(description="服务的地点路径（空为全市）")
    compounds: list[str] = Field(description="物业、维保单位服务的小区")
    parent: str | None = Field(description="督办上级")
    webhook_url: str | None


class ReturnIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason_code: ReturnReason = Field(description="退单理由代码")
    note: Text = Field(min_length=1, max_length=1000, description="说明：为何不属本单位、应由谁办")
    suggested_category: str | None = Field(
        default=None,
        max_length=64,
        pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$",
        description="应属何类诉求（可选）：作为分诊模型的学习样本",
    )


class ReconsiderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Text = Field(min_length=1, max_length=1000, description="为何请指定单位复核")


class ReconsiderDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    uphold: bool = Field(description="true 维持指定 / false 改派（须给 lead_owner_id）")
    reason: Text = Field(min_length=1, max_length=1000, description="决定理由")
    lead_owner_id: str | None = Field(
        default=None, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$", description="改派的新主办"
    )

    @model_validator(mode="after")
    def _reassign_names_a_lead(self) -> ReconsiderDecisionIn:
        if not self.uphold and self.lead_owner_id is None:
            raise ValueError("改派须指定新的主办单位 lead_owner_id (name the new lead)")
        return self


class ProgressIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Text = Field(min_length=1, max_length=2000, description="进展说明")
    minutes_spent: int = Field(default=0, ge=0, le=24 * 60, description="本次投入分钟数")
    attachments: list[AttachmentRef] = Field(
        default_factory=list, max_length=10, description="本单位先上传的附件编号（现场照片等）"
    )


class ExtensionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    working_days: int = Field(ge=1, le=30, description="申请延长的工作日数")
    reason: Text = Field(min_length=1, max_length=1000)


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Literal["resolved", "explained", "referred"] = Field(
        description="resolved 已解决 / explained 解释结案 / referred 转诉讼、仲裁或应急"
    )
    summary: Text = Field(min_length=1, max_length=2000, description="办理结果")
    attachments: list[AttachmentRef] = Field(
        default_factory=list,
        max_length=10,
        description="办结凭证、书面承诺等：本单位先上传的附件编号",
    )
