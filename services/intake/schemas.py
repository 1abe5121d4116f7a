"""Request and response schemas of intake's HTTP API (separate from the tables)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.domain.taxonomy import Location

Code = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")


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
        Location(**values)  # levels must agree (d01 › d01.s01 › ...); raises ValueError
        return self


class PetitionerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=50)
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9][0-9 \-]{5,19}$")
    id_number: str | None = Field(default=None, pattern=r"^[0-9]{17}[0-9Xx]$|^[0-9]{15}$")


class CaseCreate(BaseModel):
    """A submission from one channel. The channel itself comes from the key."""

    model_config = ConfigDict(extra="forbid")

    external_id: str | None = Field(
        default=None, min_length=1, max_length=64, description="该渠道自己的工单编号"
    )
    channel: str | None = Field(default=None, description="可省略；若填写必须与密钥的渠道一致")
    category: str = Field(max_length=64, pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=5000)
    location: LocationIn
    urgency: Literal["emergency", "urgent", "normal"] = "normal"
    petitioner: PetitionerIn | None = None
    received_by: str | None = Field(
        default=None, min_length=1, max_length=64, description="首问负责人（窗口接待人员）"
    )


class CaseAccepted(BaseModel):
    case_id: UUID
    status: str
    created: bool
    duplicate_of: UUID | None = None
    received_at: datetime


class CaseStatus(BaseModel):
    case_id: UUID
    channel: str
    external_id: str | None
    category: str
    title: str
    status: str
    status_label: str
    status_at: datetime
    received_at: datetime
