"""The dispatchers' queue (待派单) and reclassification (重新分类), over HTTP.

``GET /v1/triage``: the open queue of the key's area, oldest deadline first: each case's
text and address, the model's top three with probabilities, the candidate places, and for
each choice the owners the rules would route it to. ``POST /v1/triage/{case_id}``: a
dispatcher's pick (category and place, a reason); the case routes at once.
``POST /v1/cases/{case_id}/reclassify``: change the matter and/or place of an open case
with a reason; its open dispatches close and it routes again.

Who: a supervisor (the dispatch desk's keys are supervisor keys of its office) for cases
in its area, and admin. A case outside the area answers 404 like an unknown one. A case
whose place is unknown lies only in the city's area (the city desk's queue).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Row, select

from services.router import triage
from services.router.actions.common import ActionContext
from services.router.api.access import in_area
from services.router.tables import cases, triage_items
from shared.auth.dependency import require
from shared.auth.keys import ApiKey, Role
from shared.auth.scope import area_of
from shared.domain.display import beijing
from shared.domain.errors import NotFound
from shared.domain.routing import Location, Urgency
from shared.domain.taxonomy import LEVELS, label, path_problem
from shared.domain.triage_rules import UNCLASSIFIED
from shared.web.fields import Text
from shared.web.problems import BODY, KEYED, NOT_FOUND, Problem

router = APIRouter(tags=["triage"], responses=KEYED | NOT_FOUND | BODY)
DeskKey = Annotated[ApiKey, require(Role.SUPERVISOR, Role.ADMIN)]
NOT_HERE = "诉求不存在 (case not found)"
CASE_COLUMNS = ("case_number", "title", "description", "address", "channel", "urgency",
                "received_at", "area_path", "category")  # fmt: skip
CATEGORY = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$"


class OwnerChoice(BaseModel):
    owner_id: str
    name: str
    role: str = Field(description="lead 主办 | co_handler 协办")


class Choice(BaseModel):
    """One category the dispatcher may pick, and where the rules would send it."""

    category: str
    category_name: str
    probability: float | None = Field(description="模型给出的概率（无则为人工候选）")
    owners: list[OwnerChoice] = Field(description="按规则将派给的单位；空为无匹配规则（吹哨）")
    rule_id: str | None


class PlaceChoice(BaseModel):
    path: str
    name: str


class TriageItemRead(BaseModel):
    case_id: UUID
    case_number: str | None
    state: str
    title: str
    description: str | None
    address: str | None
    channel: str
    urgency: str
    received_at: datetime
    entered_at: datetime
    due_at: datetime
    due_at_beijing: str
    overdue: bool
    source: str = Field(description="free_text 自由文本 | unconvened 吹哨无可召集单位")
    reason: str
    desk_owner_id: str
    desk_name: str
    model_version: str | None
    place: str | None = Field(description="暂定地点路径（不明为空）")
    place_explanation: str
    places: list[PlaceChoice] = Field(description="候选地点，最可能的在前")
    choices: list[Choice] = Field(description="候选类别（模型前三），各自按规则的去向")


class TriageQueue(BaseModel):
    items: list[TriageItemRead]
    count: int


class PickIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: str = Field(max_length=64, pattern=CATEGORY, description="类别代码")
    place: str = Field(max_length=100, description="地点路径，如 d01.s02.c01.g01.k01")
    reason: Text = Field(default="", max_length=1000, description="判定理由（可空）")

    @field_validator("place")
    @classmethod
    def _path(cls, value: str) -> str:
        return _checked_path(value)


class ReclassifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: str | None = Field(default=None, max_length=64, pattern=CATEGORY)
    place: str | None = Field(default=None, max_length=100, description="新的地点路径")
    reason: Text = Field(min_length=1, max_length=1000, description="重新分类的理由（必填）")

    @field_validator("place")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        return None if value is None else _checked_path(value)


class Routed(BaseModel):
    case_id: UUID
    state: str
    state_label: str
    category: str
    place: str


def _checked_path(value: str) -> str:
    depth = len(value.split("."))
    if not value or depth > len(LEVELS):
        raise ValueError("地点路径不正确 (bad place path)")
    problem = path_problem(value, LEVELS[depth - 1])
    if problem:
        raise ValueError(problem)
    return value


def _path(location: dict[str, Any]) -> str:
    return Location(**location).path()


def levels_of(path: str) -> dict[str, str | None]:
    """The levels of a place path (``d01.s02`` → district d01, street d01.s02)."""
    if not path:
        return dict.fromkeys(LEVELS)
    return Location(**{LEVELS[len(path.split(".")) - 1]: path}).by_level()


@router.get("/v1/triage", response_model=TriageQueue, summary="待派单队列 (triage queue)")
async def queue(
    key: DeskKey,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> TriageQueue:
    runtime = request.app.state.runtime
    area = area_of(key, runtime.deps.owners)
    shown = [cases.c[n] for n in CASE_COLUMNS]
    stmt = (
        select(triage_items, cases.c.state.label("case_state"), *shown)
        .join(cases, cases.c.case_id == triage_items.c.case_id)
        .where(triage_items.c.state == "open")
        .order_by(triage_items.c.due_at, triage_items.c.case_id)
    )
    if not area.unlimited:
        if area.path is None or not area.known:
            return TriageQueue(items=[], count=0)
        stmt = stmt.where(
            (cases.c.area_path == area.path) | cases.c.area_path.startswith(area.path + ".")
        )
    async with runtime.engine.connect() as conn:
        rows = (await conn.execute(stmt.limit(limit))).all()
    now = runtime.clock.now()
    return TriageQueue(items=[_item(runtime.deps, r, now) for r in rows], count=len(rows))


def _item(deps: Any, row: Row[Any], now: datetime) -> TriageItemRead:
    info = row.triage or {}
    place = info.get("place") or {}
    path = row.area_path or None
    candidates = [p for p in [path, *(place.get("candidates") or [])] if p]
    names = deps.rules.categories
    suggestions = info.get("suggestions") or []
    picks = [(s["category"], s["probability"]) for s in suggestions if s["category"] in names]
    if not picks and row.category != UNCLASSIFIED:
        picks = [(row.category, None)]
    return TriageItemRead(
        case_id=row.case_id, case_number=row.case_number, state=row.case_state, title=row.title,
        description=row.description, address=row.address, channel=row.channel,
        urgency=row.urgency, received_at=row.received_at, entered_at=row.entered_at,
        due_at=row.due_at, due_at_beijing=beijing(row.due_at), overdue=row.due_at <= now,
        source=row.source, reason=row.reason, desk_owner_id=row.desk_owner_id,
        desk_name=deps.owners.name_of(row.desk_owner_id),
        model_version=info.get("model_version"), place=path,
        place_explanation=place.get("explanation") or ("" if path else "地点不明"),
        places=[PlaceChoice(path=p, name=_place_name(deps, p)) for p in dict.fromkeys(candidates)],
        choices=[_choice(deps, c, p, path, row.urgency) for c, p in picks],
    )  # fmt: skip


def _choice(deps: Any, category: str, p: float | None, path: str | None, urgency: str) -> Choice:
    decision = deps.decide(
        category=category, location=Location(**levels_of(path or "")), urgency=Urgency(urgency)
    )
    owners = [OwnerChoice(owner_id=o, name=deps.owners.name_of(o), role="lead")
              for o in [decision.lead_owner_id] if o and not decision.disputed]  # fmt: skip
    owners += [
        OwnerChoice(owner_id=o, name=deps.owners.name_of(o), role="co_handler")
        for o in decision.co_handler_ids
    ]
    return Choice(
        category=category, category_name=deps.rules.categories.get(category, category),
        probability=p, owners=owners, rule_id=decision.matched_rule_id,
    )  # fmt: skip


def _place_name(deps: Any, path: str) -> str:
    """The place's name in the gazetteer, with its path (``锦绣花园（d01.s01.c01.g02.k01）``)."""
    return f"{deps.place_name(path)}（{path}）"


@router.post(
    "/v1/triage/{case_id}",
    response_model=Routed,
    summary="派单员判定类别和地点 (pick from the triage queue)",
    responses={409: {"model": Problem, "description": "此件不在待派单队列中"}},
)
async def pick(case_id: UUID, body: PickIn, key: DeskKey, request: Request) -> Routed:
    return await _act(request, key, case_id, body.category, body.place, body.reason, pick=True)


@router.post(
    "/v1/cases/{case_id}/reclassify",
    response_model=Routed,
    tags=["cases"],
    summary="重新分类并重新派单 (reclassify and re-route)",
    responses={409: {"model": Problem, "description": "诉求状态不允许重新分类"}},
)
async def reclassify(case_id: UUID, body: ReclassifyIn, key: DeskKey, request: Request) -> Routed:
    if body.category is None and body.place is None:
        raise HTTPException(422, "请给出新的类别 category 或地点 place (nothing to change)")
    return await _act(request, key, case_id, body.category, body.place, body.reason, pick=False)


async def _act(
    request: Request,
    key: ApiKey,
    case_id: UUID,
    category: str | None,
    place: str | None,
    reason: str,
    *,
    pick: bool,
) -> Routed:
    runtime = request.app.state.runtime
    names = runtime.deps.rules.categories
    if category is not None and (category not in names or category == UNCLASSIFIED):
        raise HTTPException(422, f"类别「{category}」不在分类表中 (unknown category)")
    async with runtime.engine.begin() as conn:
        case = (
            await conn.execute(select(cases).where(cases.c.case_id == case_id).with_for_update())
        ).first()
        if case is None or not in_area(request, key, case.location):
            raise NotFound(NOT_HERE)
        where = levels_of(place) if place is not None else dict(case.location)
        if place is not None and not in_area(request, key, where):
            raise HTTPException(403, "新地点超出本单位辖区 (the new place is outside your area)")
        chosen = category or case.category
        if chosen == UNCLASSIFIED:
            raise HTTPException(422, "请给出类别 category (the case has none yet)")
        unchanged = chosen == case.category and _path(where) == _path(case.location)
        if not pick and unchanged and case.state != "awaiting_triage":
            raise HTTPException(422, "类别和地点都没有变化 (nothing changed)")
        ctx = ActionContext(conn=conn, key=key, now=runtime.clock.now(), deps=runtime.deps)
        act = triage.decide if pick else triage.reclassify
        state = await act(ctx, case, category=chosen, location=where, reason=reason)
        await ctx.flush()
    runtime.poke_relay()
    return Routed(
        case_id=case_id, state=state, state_label=label(state), category=chosen,
        place=Location(**where).path(),
    )  # fmt: skip
