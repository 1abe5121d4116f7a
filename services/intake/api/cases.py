"""Intake's HTTP API for channels: submit a case, read it by its id or by any of its numbers.

A submission that is another number for an open case answers 201 with ``created: false``
and ``duplicate_of`` (the same ``case_id``); a replay of a number already seen answers 200.
"""

from __future__ import annotations

import asyncio
from typing import Annotated
from uuid import UUID

import structlog
from fastapi import APIRouter, Header, HTTPException, Path, Request, Response, status

from services.intake import views
from services.intake.api.attachments import resolve_attachments
from services.intake.campaigns import campaign_exists
from services.intake.records import Submitted
from services.intake.schemas import (
    BatchAccepted,
    BatchItem,
    CaseAccepted,
    CaseBatch,
    CaseCreate,
    CaseStatus,
)
from services.intake.submissions import Overloaded
from shared.auth.dependency import charge, require
from shared.auth.keys import ApiKey, Role
from shared.auth.scope import area_of
from shared.domain.errors import Invalid, NotFound
from shared.outages import dependency_unavailable
from shared.web.fields import WORD, Text
from shared.web.problems import BODY, KEYED, NOT_FOUND

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/v1/cases", tags=["cases"], responses=KEYED | NOT_FOUND | BODY)
refs_router = APIRouter(prefix="/v1/refs", tags=["cases"], responses=KEYED | NOT_FOUND)
ChannelKey = Annotated[ApiKey, require(Role.CHANNEL)]
ReaderKey = Annotated[ApiKey, require(Role.CHANNEL, Role.OPS, Role.SUPERVISOR)]


@router.post(
    "",
    response_model=CaseAccepted,
    status_code=201,
    summary="提交诉求 (submit a case)",
    responses={
        200: {"description": "重复提交：返回第一次的答复 (replay)"},
        503: {"description": "受理繁忙或依赖不可达，按 Retry-After 重试 (retry after)"},
    },
)
async def create_case(
    body: CaseCreate,
    key: ChannelKey,
    request: Request,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> CaseAccepted:
    channel = _checked(key, body)
    await resolve_attachments(request, key, body)
    submitted, staged = await submit_as(request, channel, body, idempotency_key)
    if not (submitted.created or staged):  # a replay: nothing new was recorded
        response.status_code = status.HTTP_200_OK
    return _accepted(submitted)


async def submit_as(
    request: Request, channel: str, body: CaseCreate, idempotency_key: str | None = None
) -> tuple[Submitted, bool]:
    """Intake's one submission path after the caller's own checks: triage what the body
    left out, check its campaign, submit through the group commit. Staff actions that open
    a case (a risk turned into a case, a 回头看 that finds a matter alive) come here too, so
    their cases route, link and alert like any other."""
    _triage(request, body)
    if body.campaign_id is not None:
        async with request.app.state.runtime.engine.connect() as conn:
            if not await campaign_exists(conn, body.campaign_id):
                raise HTTPException(422, f"专项排查 {body.campaign_id} 不存在 (unknown campaign)")
    try:
        return await request.app.state.submissions.submit(  # type: ignore[no-any-return]
            channel=channel, body=body, idempotency_key=idempotency_key
        )
    except Overloaded as exc:
        raise _busy() from exc


def _triage(request: Request, body: CaseCreate) -> None:
    """Decide what a free-text submission left out (category, place): see services.intake.triage."""
    desk = request.app.state.runtime.deps.triage
    if desk is not None:
        desk.apply(body)
    elif body.category is None or body.location is None:
        raise HTTPException(422, "本服务未启用分诊，请填写 category 和 location")


def _triage_all(request: Request, bodies: list[CaseCreate]) -> None:
    desk = request.app.state.runtime.deps.triage
    if desk is None:
        for body in bodies:
            _triage(request, body)  # refuses the first that needs triage
        return
    desk.apply_many(bodies)


@router.post(
    "/batch",
    response_model=BatchAccepted,
    status_code=200,
    summary="批量提交诉求 (submit a batch of cases)",
    responses={
        503: {"description": "受理繁忙或依赖不可达，整批按 Retry-After 重试 (retry after)"},
    },
)
async def create_cases(body: CaseBatch, key: ChannelKey, request: Request) -> BatchAccepted:
    """A batch of up to ``intake_batch_max_cases`` cases from one channel, for platforms that
    forward in bulk (a 12345 platform, a province aggregating its cities, a backlog after
    an outage).

    Every case needs its ``external_id``: that number makes a retried batch safe — a case
    already recorded answers as a replay (200), the rest are recorded (201). The batch is
    checked whole first; one bad case refuses the whole batch (422, its index in the
    reason) and nothing is recorded. Each case is then submitted as if it had come alone
    (through intake's group commit: the cases of one batch may share commits with other
    requests' and be committed by different ones); the answer comes after every case is
    settled. If the database is away midway the answer is 503 and the channel resends the
    same batch. A case that fails on its own is answered in its row (status 500 with the
    reason; the others stand) so the channel can resend just that one.
    """
    limit = request.app.state.runtime.settings.intake_batch_max_cases
    if len(body.cases) > limit:
        raise HTTPException(422, f"一批最多 {limit} 件 (at most {limit} cases per batch)")
    channel = ""
    for i, case in enumerate(body.cases):
        if case.external_id is None:
            raise HTTPException(
                422, f"第 {i} 件缺少 external_id，批量提交每件都需要渠道编号 (cases[{i}])"
            )
        try:
            channel = _checked(key, case)
            await resolve_attachments(request, key, case)
        except HTTPException as exc:
            raise HTTPException(exc.status_code, f"第 {i} 件：{exc.detail} (cases[{i}])") from exc
        except Invalid as exc:  # an attachment that is not the channel's own upload
            raise Invalid(f"第 {i} 件：{exc} (cases[{i}])") from exc
    await _known_campaigns(request, body.cases)
    charge(request, key, len(body.cases) - 1)  # one token per case; the key took one
    free = [case for case in body.cases if case.category is None or case.location is None]
    if free:  # the model and the gazetteer, off the event loop for a batch's worth of text
        await asyncio.to_thread(_triage_all, request, free)
    try:
        answers = await request.app.state.submissions.submit_many(
            channel=channel, bodies=body.cases
        )
    except Overloaded as exc:
        raise _busy() from exc
    outage = next((a for a in answers if isinstance(a, BaseException) and _away(a)), None)
    if outage is not None:
        raise outage  # 503 with Retry-After: resending the same batch is safe
    results = [item_result(i, answer) for i, answer in enumerate(answers)]
    return BatchAccepted(
        accepted=sum(r.status_code == 201 for r in results),
        replayed=sum(r.status_code == 200 for r in results),
        failed=sum(r.status_code >= 400 for r in results),
        results=results,
    )


async def _known_campaigns(request: Request, cases: list[CaseCreate]) -> None:
    """A batch naming a campaign that does not exist is refused whole (422, its index)."""
    for i, case in enumerate(cases):
        if case.campaign_id is None:
            continue
        async with request.app.state.runtime.engine.connect() as conn:
            if not await campaign_exists(conn, case.campaign_id):
                raise HTTPException(
                    422, f"第 {i} 件：专项排查 {case.campaign_id} 不存在 (cases[{i}].campaign_id)"
                )


def _away(exc: BaseException) -> bool:
    return isinstance(exc, Overloaded) or dependency_unavailable(exc) is not None


def item_result(i: int, answer: tuple[Submitted, bool] | BaseException) -> BatchItem:
    """One case's row in a batch answer: 201 recorded, 200 a replay, or its own failure."""
    if isinstance(answer, HTTPException):
        return BatchItem(index=i, status_code=answer.status_code, detail=str(answer.detail))
    if isinstance(answer, BaseException):
        log.error("batch_case_failed", index=i, error=repr(answer)[:300])
        return BatchItem(
            index=i,
            status_code=500,
            detail=f"第 {i} 件未能受理，请单独重发此件 (this case failed: resend it alone)",
        )
    submitted, staged = answer
    code = 201 if (submitted.created or staged) else 200
    return BatchItem(index=i, status_code=code, case=_accepted(submitted))


def _busy() -> HTTPException:
    return HTTPException(
        503,
        "受理繁忙，请稍后重试 (intake overloaded: too many submissions waiting)",
        headers={"Retry-After": "1"},
    )


def _accepted(submitted: Submitted) -> CaseAccepted:
    return CaseAccepted(
        case_id=submitted.case_id,
        case_number=submitted.case_number,
        status=submitted.status,
        created=submitted.created,
        duplicate_of=submitted.duplicate_of,
        suggested_duplicates=submitted.suggested,
        key_person=submitted.key_person,
        rebound_of=submitted.rebound_of,
        received_at=submitted.received_at,
    )


@router.get("/{case_id}", response_model=CaseStatus, summary="查询诉求状态 (case status)")
async def get_case(case_id: UUID, key: ReaderKey, request: Request) -> CaseStatus:
    """The case with every number it is known by; a channel sees the cases it has a number on."""
    return await _visible_case(request, key, case_id)


@refs_router.get(
    "/{channel}/{ref}", response_model=CaseStatus, summary="按渠道编号查询 (case by any number)"
)
async def get_case_by_ref(
    channel: Annotated[str, Path(max_length=32, pattern=WORD)],
    ref: Annotated[Text, Path(max_length=64)],
    key: ReaderKey,
    request: Request,
) -> CaseStatus:
    async with request.app.state.runtime.engine.connect() as conn:
        case_id = await views.case_by_ref(conn, channel, ref)
    if case_id is None:
        raise NotFound(_NOT_FOUND)  # the same answer as a case the key may not see
    return await _visible_case(request, key, case_id)


_NOT_FOUND = "诉求不存在 (case not found)"


async def _visible_case(request: Request, key: ApiKey, case_id: UUID) -> CaseStatus:
    """The case if ``key`` may see it; else 404 with the same text as an unknown case or
    number, so an answer never tells a channel that another's case exists."""
    async with request.app.state.runtime.engine.connect() as conn:
        found = await views.case_status(conn, case_id, named=key.role is not Role.CHANNEL)
        if found is not None and key.role is Role.CHANNEL:
            if key.channel not in await views.channels_of(conn, case_id):
                found = None
        area = area_of(key, request.app.state.runtime.deps.owners)
        if found is not None and not area.covers_location(await views.location_of(conn, case_id)):
            found = None  # a supervisor sees its own area only
    if found is None:
        raise NotFound(_NOT_FOUND)
    return found


def _checked(key: ApiKey, body: CaseCreate) -> str:
    """The submitting channel, after the checks every submission gets."""
    channel = _channel_of(key, body)
    if body.mediated_on_site and channel != "grid_patrol":
        raise HTTPException(
            422, "只有网格巡查 (grid_patrol) 可提交当场调解完毕的事项 (mediated_on_site)"
        )
    return channel


def _channel_of(key: ApiKey, body: CaseCreate) -> str:
    if key.role is not Role.CHANNEL or key.channel is None:
        raise HTTPException(403, "只有渠道密钥可以提交诉求 (only channel keys submit cases)")
    if body.channel is not None and body.channel != key.channel:
        raise HTTPException(
            403, f"密钥属于渠道 {key.channel}，不能以 {body.channel} 名义提交 (channel mismatch)"
        )
    return key.channel
