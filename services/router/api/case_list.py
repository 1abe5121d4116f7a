"""``GET /v1/cases``: list and search the cases a key may see (issue 20, 查找).

Scoped by the key before any filter (``services.router.case_search.scope``). Filters are
parsed by ``shared.domain.case_query`` (a bad one is 422 with a Chinese reason). A
search by phone turns the number into the petitioner's pseudonym here, with the same
keyed hash intake uses (the router never stores or logs the number), is open to
supervisors, ops and admin only, and is written to ``platform.audit_log``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from services.router.case_search import Page, conditions, find, scope
from shared.auth import audit
from shared.auth.dependency import require
from shared.auth.keys import ApiKey, Role
from shared.auth.scope import area_of
from shared.domain.case_query import CaseFilter, FilterError, parse_filter
from shared.domain.taxonomy import label, path_problem
from shared.security.pii import normalise_phone, petitioner_ref
from shared.web.problems import KEYED

router = APIRouter(prefix="/v1/cases", tags=["cases"], responses=KEYED)
ListKey = Annotated[ApiKey, require(Role.OPS, Role.SUPERVISOR, Role.DEPARTMENT, Role.CHANNEL)]
PHONE_ROLES = (Role.SUPERVISOR, Role.OPS, Role.ADMIN)

PARAMS = {
    "state": "状态，逗号分隔 (received, dispatched, in_progress, awaiting_feedback, closed …)",
    "overdue": "true：有未结派单已超时（任一时限）",
    "escalated_to_me": "true：督办到本单位的（督办单位密钥）",
    "whistle_open": "true：吹哨未指定主办的",
    "category": "事项分类前缀，如 property 或 property.*",
    "channel": "来源渠道", "owner": "责任单位（持有有效派单）", "area": "区域路径前缀，如 d01.s01",
    "received_from": "受理时间起（日期为北京时间当日）", "received_to": "受理时间止（含当日）",
    "closed_from": "结案时间起", "closed_to": "结案时间止",
    "key_person": "true：重点人员", "rebound": "true：回弹件",
    "tier": "simple / complex / difficult", "urgency": "emergency / urgent / normal",
    "q": "编号（诉求编号、渠道工单号，或其一部分）或中文文字（标题、描述、地址）",
    "phone": "诉求人电话（督办单位、运维、管理员；每次查找记入审计日志）",
    "sort": "received（最新受理在前，默认）或 deadline（最近时限在前）",
    "cursor": "上一页返回的 next_cursor", "limit": "每页条数，1–200，默认 50",
}  # fmt: skip
OPENAPI = {"parameters": [
    {"name": n, "in": "query", "required": False, "description": d, "schema": {"type": "string"}}
    for n, d in PARAMS.items()
]}  # fmt: skip


class CaseSummary(BaseModel):
    case_id: UUID
    case_number: str | None
    external_id: str | None = Field(description="渠道工单号")
    title: str
    address: str | None
    category: str
    category_name: str
    channel: str
    state: str
    state_label: str
    tier: str | None
    urgency: str
    received_at: datetime
    closed_at: datetime | None
    next_due_at: datetime | None = Field(description="最近的未结派单时限")
    overdue: bool
    escalation_level: str | None
    escalated_to: list[str]
    whistle_open: bool
    key_person: bool
    rebound: bool


class CaseList(BaseModel):
    items: list[CaseSummary]
    next_cursor: str | None = Field(description="下一页游标；null 表示没有更多")
    total: int = Field(description="符合条件的诉求数（超过上限时为上限）")
    total_capped: bool = Field(description="true：实际数目多于 total（只数到上限）")


@router.get("", response_model=CaseList, summary="查找诉求 (list and search cases)",
            openapi_extra=OPENAPI)  # fmt: skip
async def list_cases(key: ListKey, request: Request) -> CaseList:
    try:
        f = parse_filter(request.query_params)
    except FilterError as exc:
        raise HTTPException(422, str(exc)) from exc
    ref = _phone_ref(request, key, f)
    runtime = request.app.state.runtime
    now = runtime.clock.now()
    area = area_of(key, runtime.deps.owners)
    where = [scope(key, area), *conditions(f, now=now, me=key.owner_id, ref=ref)]
    async with runtime.engine.begin() as conn:
        page = await find(conn, f, where)
        if ref is not None:
            await audit.record(conn, key, "petitioner.search", petitioner_ref=ref,
                               matched=page.total, path=request.url.path)  # fmt: skip
    return _answer(request, page, now)


def _phone_ref(request: Request, key: ApiKey, f: CaseFilter) -> str | None:
    """The pseudonym of the phone searched for (None when no phone is asked); checks the
    other filters that depend on the key too."""
    if f.area and (problem := path_problem(f.area)):
        raise HTTPException(422, f"区域路径无效 (bad area): {problem}")
    if f.escalated_to_me and not key.owner_id:
        raise HTTPException(422, "escalated_to_me 仅适用于绑定单位的密钥 (key has no owner)")
    if f.phone is None:
        return None
    if key.role not in PHONE_ROLES:
        raise HTTPException(403, "按电话查找仅限督办单位、运维与管理员 (phone search not allowed)")
    digits = normalise_phone(f.phone)
    if (
        not 7 <= len(digits) <= 15
        or not f.phone.replace("+", "").replace("-", "").replace(" ", "").isdigit()
    ):
        raise HTTPException(422, "电话号码格式不正确 (bad phone number)")
    key_text = request.app.state.runtime.settings.pseudonym_key.get_secret_value()
    return petitioner_ref(key_text, phone=digits, id_number=None)


def _answer(request: Request, page: Page, now: datetime) -> CaseList:
    names = request.app.state.runtime.deps.rules.categories
    return CaseList(
        items=[_summary(r._mapping, names, now) for r in page.rows],
        next_cursor=page.next_cursor,
        total=page.total,
        total_capped=page.total_capped,
    )


def _summary(row: Any, names: dict[str, str], now: datetime) -> CaseSummary:
    due = row["next_due_at"]
    return CaseSummary.model_validate({
        **{k: row[k] for k in CaseSummary.model_fields if k in row},
        "category_name": names.get(row["category"], row["category"]),
        "state_label": label(row["state"]),
        "overdue": due is not None and due < now,
    })  # fmt: skip
