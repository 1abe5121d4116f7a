"""Correcting a petitioner's record: an admin action, audited (issue 17).

``PATCH /v1/petitioners/{petitioner_ref}/contact`` (admin key). Submissions never change a
person's record once it exists (see :mod:`services.intake.records`), so a wrong or old
name, phone or email is corrected here: a field given replaces the stored one, ``null``
erases it, a field left out keeps it. The audit log names the key, the person and the
fields changed, never their values. The ``petitioner_ref`` stays: it names the person,
whatever number they are reached on now.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, update

from services.intake.tables import petitioners
from shared.auth import audit
from shared.auth.dependency import require
from shared.auth.keys import ApiKey, Role
from shared.domain.errors import NotFound
from shared.web.fields import PETITIONER_REF, Text
from shared.web.problems import BODY, KEYED, NOT_FOUND

router = APIRouter(prefix="/v1/petitioners", tags=["petitioners"], responses=KEYED | NOT_FOUND)
AdminKey = Annotated[ApiKey, require(Role.ADMIN)]
COLUMNS = {f: f"{f}_enc" for f in ("name", "phone", "id_number", "email")}


class ContactCorrection(BaseModel):
    """The fields to correct; one left out keeps its value, ``null`` erases it."""

    model_config = ConfigDict(extra="forbid")

    name: Text | None = Field(default=None, min_length=1, max_length=50)
    phone: Text | None = Field(default=None, pattern=r"^\+?[0-9][0-9 \-]{5,19}$")
    id_number: Text | None = Field(default=None, pattern=r"^[0-9]{17}[0-9Xx]$|^[0-9]{15}$")
    email: Text | None = Field(
        default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", description="电子邮箱"
    )


class Corrected(BaseModel):
    petitioner_ref: str
    fields: list[str] = Field(description="已更正的字段")


@router.patch(
    "/{petitioner_ref}/contact",
    response_model=Corrected,
    summary="更正诉求人档案（管理员，记入审计日志）(correct a petitioner's record)",
    responses=BODY,
)
async def correct_contact(
    petitioner_ref: Annotated[str, Path(pattern=PETITIONER_REF)],
    body: ContactCorrection,
    key: AdminKey,
    request: Request,
) -> Corrected:
    given = sorted(body.model_fields_set)
    if not given:
        raise HTTPException(422, "没有要更正的字段 (name, phone, id_number, email)")
    vault = request.app.state.runtime.deps.vault
    values = {COLUMNS[f]: vault.seal(getattr(body, f)) for f in given}
    async with request.app.state.runtime.engine.begin() as conn:
        done = await conn.execute(
            update(petitioners)
            .where(petitioners.c.petitioner_ref == petitioner_ref)
            .values(**values, updated_at=func.now())
        )
        if done.rowcount == 0:
            raise NotFound("诉求人不存在 (petitioner not found)")
        await audit.record(
            conn, key, "petitioner.correct", petitioner_ref=petitioner_ref, fields=given
        )
    return Corrected(petitioner_ref=petitioner_ref, fields=given)
