"""A department's view of the petitioner on its own dispatches: a masked phone
(138****1234) by default; the full contact only with ``?reveal=true``, and every reveal is
written to the audit log (who, which case, when). Only owners holding a *live* dispatch of
the case may ask (a dispatch returned or cancelled no longer counts); anyone else gets 404.

The contact shown is the one given with this case (``cases.*_enc``), not the petitioner's
record: another submission naming the same phone never changes what this case shows. A
reveal also answers the case's title and description as written: elsewhere they leave
intake with phone and ID numbers masked (``shared.security.redact``)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from sqlalchemy import select

from services.intake.tables import cases
from shared.auth import audit
from shared.auth.dependency import require
from shared.auth.keys import ApiKey, Role
from shared.domain.errors import NotFound
from shared.security.pii import PiiVault, mask_phone
from shared.web.problems import KEYED, NOT_FOUND

router = APIRouter(prefix="/v1/cases", tags=["cases"], responses=KEYED | NOT_FOUND)
DepartmentKey = Annotated[ApiKey, require(Role.DEPARTMENT)]


class PetitionerView(BaseModel):
    case_id: UUID
    masked_phone: str | None
    revealed: bool
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    title: str | None = None
    description: str | None = None


def live_owners(holders: dict[str, str | None] | None, detail: dict[str, Any] | None) -> set[str]:
    """The owners holding a live dispatch of a case (``holders``: dispatch → owner, null
    once ended). A case intake has heard no dispatch of since the change falls back to
    ``status_detail.owners`` (none for a new case)."""
    if holders is not None:
        return {owner for owner in holders.values() if owner}
    return set((detail or {}).get("owners", []))


@router.get(
    "/{case_id}/petitioner", response_model=PetitionerView, summary="诉求人联系方式（脱敏）"
)
async def petitioner_of(
    case_id: UUID,
    key: DepartmentKey,
    request: Request,
    reveal: Annotated[bool, Query(description="查看完整联系方式和原文（记入审计日志）")] = False,
) -> PetitionerView:
    runtime = request.app.state.runtime
    async with runtime.engine.begin() as conn:
        row = (await conn.execute(select(cases).where(cases.c.case_id == case_id))).first()
        if row is None or (
            key.role is not Role.ADMIN
            and key.owner_id not in live_owners(row.holders, row.status_detail)
        ):
            raise NotFound("诉求不存在 (case not found)")
        if reveal:
            await audit.record(conn, key, "petitioner.reveal", case_id=str(case_id))
    return _view(runtime.deps.vault, row, reveal=reveal)


def _view(vault: PiiVault, row: Any, *, reveal: bool) -> PetitionerView:
    phone = vault.open(row.phone_enc)
    view = PetitionerView(case_id=row.case_id, masked_phone=mask_phone(phone), revealed=reveal)
    if reveal:
        view.name, view.phone, view.email = (
            vault.open(row.name_enc),
            phone,
            vault.open(row.email_enc),
        )
        view.title, view.description = row.title, row.description
    return view
