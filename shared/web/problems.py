"""The error answers every service gives, declared once for the OpenAPI documents.

The bodies are the ones :mod:`shared.web.app` and :mod:`shared.auth.dependency` write:
``{"detail": "<中文 (English)>"}``, a refused transition adds ``state`` and ``action``, a
refused request adds ``errors`` (field and reason). Routers spread these into
``APIRouter(responses=...)`` so a client (and the schemathesis run in
``tests/e2e/test_schemathesis.py``) can rely on every status code being documented.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

Responses = dict[int | str, dict[str, Any]]


class Problem(BaseModel):
    """Why a request was refused, Chinese first."""

    detail: str
    state: str | None = None
    action: str | None = None
    limit: int | None = None


class FieldProblem(BaseModel):
    field: str
    reason: str


class InvalidRequest(BaseModel):
    """A request the contract refuses: which fields, and why."""

    detail: str
    errors: list[FieldProblem] = []


def _problem(description: str) -> dict[str, Any]:
    return {"model": Problem, "description": description}


INVALID: Responses = {
    422: {"model": InvalidRequest, "description": "请求内容无效 (invalid request)"},
}
KEYED: Responses = {
    401: _problem("缺少或无效的密钥 (missing, invalid, revoked or expired key)"),
    403: _problem("此密钥的角色或范围不允许 (role or scope not allowed)"),
    429: _problem("请求过于频繁，见 Retry-After (rate limit for this key)"),
    **INVALID,
}
ANONYMOUS: Responses = {  # routes without a key: limited per client address
    429: _problem("请求过于频繁，见 Retry-After (rate limit for this address)"),
}
NOT_FOUND: Responses = {404: _problem("不存在，或此密钥无权查看 (not found or not yours)")}
CONFLICT: Responses = {409: _problem("当前状态不允许此操作 (refused in the current state)")}
BODY: Responses = {
    400: _problem("请求体无法解析，例如不是 UTF-8 (body could not be parsed)"),
    413: _problem("请求体过大 (body too large)"),
}
