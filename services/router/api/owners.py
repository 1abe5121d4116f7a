"""The owner directory, readable with any key."""

from __future__ import annotations

from fastapi import APIRouter, Request

from services.router.schemas import OwnerRead
from shared.auth.dependency import CurrentKey
from shared.web.problems import KEYED

router = APIRouter(prefix="/v1/owners", tags=["owners"], responses=KEYED)


@router.get("", response_model=list[OwnerRead], summary="责任单位名录 (owner directory)")
async def list_owners(key: CurrentKey, request: Request) -> list[OwnerRead]:
    owners = request.app.state.runtime.deps.owners.all()
    return [
        OwnerRead(
            id=o.id,
            name=o.name,
            kind=o.kind.value,
            area=o.area,
            compounds=o.compounds,
            parent=o.parent,
            webhook_url=o.webhook_url,
        )
        for o in owners
    ]
