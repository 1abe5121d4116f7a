"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2/) at ``/open311/v2/``, for
the city apps and platforms that speak it: discovery, services (the categories of
config/rules.yaml), ``POST requests`` and ``GET requests`` in JSON and XML.

A request is a case: ``POST requests`` becomes a :class:`CaseCreate`
(:mod:`services.intake.open311_form`) and goes through ``POST /v1/cases``'s own function
(the same checks, triage, idempotency and group commit); ``service_request_id`` is the case
number (SB20261207-000123). Deviations from the spec, each for a house rule
(services/intake/README.md, "Open311"):

- keys: ``api_key`` in the form body of ``POST requests`` (or ``Authorization: Bearer``),
  never in a URL; reads take the key from the ``Authorization`` header only, and a
  request with ``api_key`` in its query string is refused (400);
- ``media_url`` is stored as a link in the description, never fetched;
- a retried POST is recognised only by an ``Idempotency-Key`` header (the spec has none).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.datastructures import QueryParams

from services.intake.api import cases
from services.intake.api.open311_render import (
    FORMATS,
    Open311Error,
    Open311Route,
    render,
    render_one,
)
from services.intake.open311_form import FormError, parse_form, to_case
from services.intake.open311_views import Filters, as_request, find
from shared.auth.dependency import AnonymousLimit, check_key, current_key, limited_key
from shared.auth.keys import ApiKey, Role
from shared.domain.calendar import SHANGHAI
from shared.domain.triage_rules import matters

PREFIX = "/open311/v2"
SPEC = "http://wiki.open311.org/GeoReport_v2"
router = APIRouter(prefix=PREFIX, tags=["open311"], route_class=Open311Route,
                   include_in_schema=False)  # fmt: skip
MAX_NUMBERS = 100
MAX_DAYS = 90
_FORM_TYPE = "application/x-www-form-urlencoded"


def _fmt(fmt: str) -> str:
    if fmt not in FORMATS:
        raise Open311Error(404, f"不支持的格式：{fmt[:16]}，请用 .json 或 .xml (unknown format)")
    return fmt


def _no_key_in_url(request: Request) -> None:
    if "api_key" in request.query_params:
        raise Open311Error(
            400,
            "密钥不得放在网址中：读取请用 Authorization: Bearer 头，提交请放在表单正文的 api_key "
            "(api_key in a URL is refused)",
        )


def _runtime(request: Request) -> Any:
    return request.app.state.runtime


def _services(request: Request) -> list[dict[str, Any]]:
    names: dict[str, str] = _runtime(request).deps.category_names
    return [
        {
            "service_code": code,
            "service_name": name,
            "description": None,
            "metadata": False,
            "type": "realtime",
            "keywords": None,
            "group": code.split(".", 1)[0],
        }
        for code, name in matters(names).items()
    ]


@router.get("/discovery.{fmt}", dependencies=[AnonymousLimit])
async def discovery(fmt: str, request: Request) -> Response:
    """Where the API is and what it speaks; ``changeset`` is when the categories last changed."""
    fmt = _fmt(fmt)
    rules = _runtime(request).settings.rules_file
    changeset = datetime.fromtimestamp(rules.stat().st_mtime, SHANGHAI).isoformat(
        timespec="seconds"
    )
    url = str(request.base_url).rstrip("/") + PREFIX
    return render_one(fmt, "discovery", {
        "changeset": changeset,
        "contact": "哨报受理服务 (Shaobao intake)：请联系本平台管理员",
        "key_service": "渠道密钥由平台管理员签发 (a channel key from the platform's admin)",
        "endpoints": [{"specification": SPEC, "url": url, "changeset": changeset,
                       "type": "production", "formats": ["application/json", "text/xml"]}],
    })  # fmt: skip


def _changeset(request: Request) -> datetime:
    """When the rules file (the categories) last changed; now if it cannot be read."""
    runtime = _runtime(request)
    try:
        return datetime.fromtimestamp(runtime.settings.rules_file.stat().st_mtime, SHANGHAI)
    except OSError:
        return runtime.clock.now().astimezone(SHANGHAI)  # type: ignore[no-any-return]


@router.get("/services.{fmt}", dependencies=[AnonymousLimit])
async def services(fmt: str, request: Request) -> Response:
    return render(_fmt(fmt), "services", "service", _services(request))


@router.get("/services/{service_code}.{fmt}", dependencies=[AnonymousLimit])
async def service_definition(service_code: str, fmt: str, request: Request) -> Response:
    """No service has extra fields (``metadata`` false): the attribute list is empty."""
    fmt = _fmt(fmt)
    if service_code not in {s["service_code"] for s in _services(request)}:
        raise Open311Error(404, f"service_code 不存在：{service_code[:64]} (unknown service_code)")
    return render_one(fmt, "service_definition", {"service_code": service_code, "attributes": []})


async def _submitter(request: Request, form: dict[str, str]) -> ApiKey:
    """The key of the form's ``api_key`` (or the bearer header), checked and rate-limited as
    every key is; only a channel's key submits."""
    header = request.headers.get("authorization", "")
    bearer = header[7:].strip() if header[:7].lower() == "bearer " else ""
    raw = form.pop("api_key", "") or bearer
    if not raw:
        raise Open311Error(401, "缺少密钥：请在表单中提供 api_key (missing api_key)")
    key = await check_key(request, raw)
    if key is None:
        raise Open311Error(401, "密钥无效、已吊销或已过期 (invalid, revoked or expired api_key)")
    return await _channel_only(request, key)


async def _channel_only(request: Request, key: ApiKey) -> ApiKey:
    await limited_key(request, key)  # the key's rate limit; an admin key's use is audited
    if key.role is not Role.CHANNEL or key.channel is None:
        raise Open311Error(403, "只有渠道密钥可以使用 Open311 接口 (only channel keys)")
    return key


@router.post("/requests.{fmt}")
async def post_request(fmt: str, request: Request) -> Response:
    """A service request becomes a case: 201 new or linked (重复件), 200 a replay of the same
    ``Idempotency-Key``; the answer lists ``service_request_id`` (the case number)."""
    fmt = _fmt(fmt)
    _no_key_in_url(request)
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != _FORM_TYPE:
        raise Open311Error(415, f"请以表单提交 (Content-Type: {_FORM_TYPE})")
    idempotency_key = request.headers.get("idempotency-key")
    if idempotency_key is not None and not 0 < len(idempotency_key) <= 128:
        raise Open311Error(400, "Idempotency-Key 须为 1 到 128 个字符 (Idempotency-Key length)")
    try:
        form = parse_form(await request.body())
        key = await _submitter(request, form)
        body = to_case(form, _runtime(request).deps.category_names)
    except FormError as exc:
        raise Open311Error(exc.status, exc.reason) from exc
    response = Response(status_code=201)
    accepted = await cases.create_case(body, key, request, response, idempotency_key)
    row = {"service_request_id": accepted.case_number, "service_notice": _notice(body, accepted),
           "account_id": form.get("account_id")}  # fmt: skip
    return render(fmt, "service_requests", "request", [row], status=response.status_code)


def _notice(body: Any, accepted: Any) -> str:
    if not accepted.created:
        if accepted.duplicate_of is not None:
            return "已并入同一事项的诉求（重复件），请以该编号查询"
        return "重复提交：此为第一次受理的结果"
    triage = body._triage
    if triage is not None and not triage.auto:
        return f"已受理，待派单员分类后派单：{triage.reason}"
    return "已受理，将按派单规则派至承办单位"


async def _reader(request: Request) -> ApiKey:
    """Reads take the key from the ``Authorization`` header only (no key in a URL)."""
    _no_key_in_url(request)
    return await _channel_only(request, await current_key(request))


@router.get("/requests.{fmt}")
async def get_requests(fmt: str, request: Request) -> Response:
    fmt = _fmt(fmt)
    key = await _reader(request)
    filters = _filters(request.query_params, _runtime(request).clock.now())
    return await _answer(request, fmt, key, filters)


@router.get("/requests/{service_request_id}.{fmt}")
async def get_request(service_request_id: str, fmt: str, request: Request) -> Response:
    """One request by its case number; another channel's answers 404 like an unknown one."""
    fmt = _fmt(fmt)
    key = await _reader(request)
    return await _answer(request, fmt, key, Filters(numbers=(service_request_id,)), one=True)


async def _answer(request: Request, fmt: str, key: ApiKey, filters: Filters, *, one: bool = False
                  ) -> Response:  # fmt: skip
    runtime = _runtime(request)
    assert key.channel is not None  # _channel_only
    async with runtime.engine.connect() as conn:
        rows = await find(conn, key.channel, filters)
    if one and not rows:
        raise Open311Error(404, "诉求不存在 (service request not found)")
    deps = runtime.deps
    found = [as_request(r, deps.category_names, deps.owners) for r in rows]
    return render(fmt, "service_requests", "request", found)


def _filters(params: QueryParams, now: datetime) -> Filters:
    numbers = _list(params.get("service_request_id"))
    if len(numbers) > MAX_NUMBERS:
        raise Open311Error(400, f"service_request_id 最多 {MAX_NUMBERS} 个 (too many ids)")
    statuses = frozenset(_list(params.get("status")))
    if not statuses <= {"open", "closed"}:
        raise Open311Error(400, "status 只能是 open 或 closed (status: open|closed)")
    start, end = _date(params, "start_date"), _date(params, "end_date")
    if start is None and end is None:
        start = now - timedelta(days=MAX_DAYS)
    if start is not None and end is not None and not start <= end <= start + timedelta(MAX_DAYS):
        raise Open311Error(400, f"end_date 须在 start_date 之后 {MAX_DAYS} 天以内 (date range)")
    codes = tuple(_list(params.get("service_code")))
    return Filters(numbers=tuple(numbers), codes=codes, start=start, end=end, statuses=statuses)


def _list(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()][: MAX_NUMBERS + 1]


def _date(params: QueryParams, name: str) -> datetime | None:
    value = params.get(name)
    if not value:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError as exc:
        raise Open311Error(400, f"{name} 须为 W3C 日期时间，如 2026-01-01T00:00:00+08:00") from exc
    return at if at.tzinfo is not None else at.replace(tzinfo=SHANGHAI)
