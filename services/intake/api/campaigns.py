"""Campaigns (专项排查) over HTTP: a community or street office sets one up for its areas
(``PUT``: created or replaced, idempotent by its id); supervisors, ops and admin read them
with their coverage. Rules: :mod:`services.intake.campaigns`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from services.intake import campaigns as service
from services.intake.api.prevention_access import OfficeKey, ReaderKey, area, check_writes_at
from services.intake.schemas_prevention import CampaignPut, CampaignRead
from shared.auth import audit
from shared.domain.errors import NotFound
from shared.web.problems import BODY, INVALID, KEYED, NOT_FOUND

router = APIRouter(prefix="/v1/campaigns", tags=["prevention"], responses=KEYED | INVALID)
CAMPAIGN = Annotated[
    str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
]


@router.put("/{campaign_id}", response_model=CampaignRead, summary="设立专项排查 (set up a campaign)",
            responses=BODY)  # fmt: skip
async def put_campaign(
    campaign_id: CAMPAIGN, body: CampaignPut, key: OfficeKey, request: Request, response: Response
) -> CampaignRead:
    """201 when new, 200 when replaced; every area (new and old) must lie in the key's."""
    for a in body.areas:
        check_writes_at(request, key, a.path)
    async with request.app.state.runtime.engine.begin() as conn:
        before = await service.one_campaign(conn, campaign_id)
        for a in before.areas if before is not None else []:
            check_writes_at(request, key, a["path"])
        created = await service.put_campaign(conn, campaign_id, body, key.actor)
        await audit.record(conn, key, "campaign.put", campaign_id=campaign_id, theme=body.theme)
        row = await service.one_campaign(conn, campaign_id)
        assert row is not None
        read = await service.campaign_read(conn, row)
    response.status_code = 201 if created else 200
    return read


@router.get("", response_model=list[CampaignRead], summary="专项排查及覆盖率 (campaigns)")
async def list_campaigns(
    key: ReaderKey,
    request: Request,
    year: Annotated[int | None, Query(ge=2000, le=2100, description="开始年份")] = None,
) -> list[CampaignRead]:
    async with request.app.state.runtime.engine.connect() as conn:
        return await service.list_campaigns(conn, area(request, key), year=year)


@router.get("/{campaign_id}", response_model=CampaignRead, summary="专项排查 (one campaign)",
            responses=NOT_FOUND)  # fmt: skip
async def get_campaign(campaign_id: CAMPAIGN, key: ReaderKey, request: Request) -> CampaignRead:
    async with request.app.state.runtime.engine.connect() as conn:
        row = await service.one_campaign(conn, campaign_id)
        if row is None or not service.visible(row, area(request, key)):
            raise NotFound("专项排查不存在 (campaign not found)")
        return await service.campaign_read(conn, row)
