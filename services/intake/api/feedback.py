"""Intake's feedback (回访评价) and petitioner-contact API.

``POST /v1/cases/{case_id}/feedback``: the channel the case came from rates the result.
Intake checks its own view of the case: only a case whose result was reported
(status ``resolved``) takes a rating, once; anything else is a 409 with the reason. The
rating is kept on the case and ``feedback.received`` is staged in the same transaction.

``GET /v1/petitioners/{petitioner_ref}/contact``: how the notifier reaches a petitioner.
**Decision:** raw contact details never travel through RabbitMQ; events carry only
``petitioner_ref``, and the notifier asks intake (the only holder of raw PII) for the
contact at send time with its own ``service`` key (admin may too; ops, read-only and
without personal data, may not), over HTTP, and forgets it after sending. Each read is
written to the audit log (``petitioner.contact``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Row, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.tables import cases, outbox, petitioners
from shared.auth import audit
from shared.auth.dependency import require
from shared.auth.keys import ApiKey, Role
from shared.contracts.envelope import make_envelope
from shared.contracts.events import FeedbackReceived
from shared.db.outbox import write_events
from shared.domain.errors import Conflict, NotFound
from shared.security.redact import mask_numbers
from shared.web.fields import PETITIONER_REF, Text
from shared.web.problems import BODY, CONFLICT, INVALID, KEYED, NOT_FOUND

router = APIRouter(prefix="/v1", tags=["feedback"], responses=INVALID | NOT_FOUND)
ChannelKey = Annotated[ApiKey, require(Role.CHANNEL)]
ServiceKey = Annotated[ApiKey, require(Role.SERVICE)]


class FeedbackCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rating: Literal["satisfied", "basically_satisfied", "unsatisfied"]
    comment: Text = Field(default="", max_length=500)


class FeedbackAccepted(BaseModel):
    case_id: UUID
    rating: str
    status: str


class PetitionerContact(BaseModel):
    petitioner_ref: str
    phone: str | None
    email: str | None = None


@router.post(
    "/cases/{case_id}/feedback",
    response_model=FeedbackAccepted,
    status_code=202,
    summary="回访评价 (rate the result)",
    responses=KEYED | CONFLICT | BODY,
)
async def post_feedback(
    case_id: UUID, body: FeedbackCreate, key: ChannelKey, request: Request
) -> FeedbackAccepted:
    channel = key.channel if key.role is Role.CHANNEL else None
    return await accept_rating(request, case_id, body, channel=channel)


async def accept_rating(
    request: Request,
    case_id: UUID,
    body: FeedbackCreate,
    *,
    channel: str | None,
    check: Callable[[AsyncConnection, Row[Any]], Awaitable[None]] | None = None,
) -> FeedbackAccepted:
    """Take one rating for a case whose result was reported; the event goes with it.
    ``check`` runs on the locked case first, in the same transaction (it may refuse, and
    write its audit row, which then commits with the rating or not at all)."""
    runtime = request.app.state.runtime
    now = runtime.clock.now()
    async with runtime.engine.begin() as conn:
        row = (
            await conn.execute(select(cases).where(cases.c.case_id == case_id).with_for_update())
        ).first()
        if row is None or (channel is not None and row.channel != channel):
            raise NotFound("诉求不存在 (case not found)")
        if check is not None:
            await check(conn, row)
        if row.status != "resolved":
            raise Conflict(_not_awaiting(row.status))
        detail: dict[str, Any] = dict(row.status_detail or {})
        detail["feedback"] = {"rating": body.rating, "comment": body.comment, "at": now.isoformat()}
        await conn.execute(
            update(cases)
            .where(cases.c.case_id == case_id)
            .values(status="rated", status_detail=detail, status_at=now)
        )
        event = FeedbackReceived(
            case_id=case_id,
            channel=row.channel,
            rating=body.rating,
            comment=mask_numbers(body.comment),
            received_at=now,
        )
        env = make_envelope(event, producer="intake", occurred_at=now, case_id=case_id)
        await write_events(conn, outbox, [env])
    runtime.poke_relay()
    return FeedbackAccepted(case_id=case_id, rating=body.rating, status="rated")


@router.get(
    "/petitioners/{petitioner_ref}/contact",
    response_model=PetitionerContact,
    summary="诉求人联系方式（仅供通知服务）(contact for the notifier)",
    responses=KEYED,
)
async def get_contact(
    petitioner_ref: Annotated[str, Path(pattern=PETITIONER_REF)], key: ServiceKey, request: Request
) -> PetitionerContact:
    runtime = request.app.state.runtime
    async with runtime.engine.begin() as conn:
        row = (
            await conn.execute(
                select(petitioners).where(petitioners.c.petitioner_ref == petitioner_ref)
            )
        ).first()
        if row is not None:  # every read of a raw contact is audited
            await audit.record(conn, key, "petitioner.contact", petitioner_ref=petitioner_ref)
    if row is None:
        raise NotFound("诉求人不存在 (petitioner not found)")
    vault = runtime.deps.vault
    email_enc = row._mapping.get("email_enc")
    return PetitionerContact(
        petitioner_ref=petitioner_ref,
        phone=vault.open(row.phone_enc),
        email=vault.open(email_enc) if email_enc else None,
    )


def _not_awaiting(status: str) -> str:
    if status == "rated":
        return "已评价，等待处理 (feedback already received)"
    if status == "closed":
        return "诉求已结案，不能再评价 (case already closed)"
    return f"诉求尚未办结，不能评价（当前状态 {status}）(case is not awaiting feedback)"
