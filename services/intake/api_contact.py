"""A department's view of the petitioner on its own dispatches: a masked phone
(138****1234) by default; the full contact only with ``?reveal=true``, and every reveal is
written to the audit log (who, which case, when). Only owners holding a dispatch of the
case may ask; anyone else gets 404."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from sqlalchemy import insert, select

from services.intake.tables import cases, petitioners
from shared.auth.dependency import require
from shared.auth.keys import ApiKey, Role
from shared.db.platform import audit_log
from shared.security.pii import mask_phone
from shared.web.app import NotFound
from shared.web.problems import KEYED, NOT_FOUND

router = APIRouter(prefix="/v1/cases", tags=["cases"], responses=KEYED | NOT_FOUND)
DepartmentKey = Annotated[ApiKey, require(Role.DEPARTMENT)]


class PetitionerView(BaseModel):
    case_id: UUID
    masked_phone: str | None
    revealed: bool
    name: str | None = None
    phone: str | None = None


@router.get(
    "/{case_id}/petitioner", response_model=PetitionerView, summary="诉求人联系方式（脱敏）"
)
async def petitioner_of(
    case_id: UUID,
    key: DepartmentKey,
    request: Request,
    reveal: Annotated[bool, Query(description="查看完整号码（记入审计日志）")] = False,
) -> PetitionerView:
    runtime = request.app.state.runtime
    vault = runtime.deps.vault
    async with runtime.engine.begin() as conn:
        row = (
            await conn.execute(
                select(cases.c.status_detail, petitioners.c.name_enc, petitioners.c.phone_enc)
                .select_from(
                    cases.outerjoin(
                        petitioners, cases.c.petitioner_ref == petitioners.c.petitioner_ref
                    )
                )
                .where(cases.c.case_id == case_id)
            )
        ).first()
        holders = set((row.status_detail or {}).get("owners", [])) if row else set()
        if row is None or (key.role is not Role.ADMIN and key.owner_id not in holders):
            raise NotFound("诉求不存在 (case not found)")
        phone = vault.open(row.phone_enc)
        if reveal:
            await conn.execute(
                insert(audit_log).values(
                    actor=key.actor, action="petitioner.reveal", detail={"case_id": str(case_id)}
                )
            )
    view = PetitionerView(case_id=case_id, masked_phone=mask_phone(phone), revealed=reveal)
    if reveal:
        view.name, view.phone = vault.open(row.name_enc), phone
    return view
