"""What a person may do on a case page, and the department's dispatch actions.

``POST /workbench/act`` (one address, so one body limit fits a photo): the action's form
with its session's CSRF token; a photo or evidence file is first uploaded with
``POST /v1/attachments``, then the action is called (``/v1/dispatches/{id}/<action>``)
with the file's id and the form's ``Idempotency-Key`` (a double click acts once). A
refusal shows the case again with the API's reason and status."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.datastructures import UploadFile

from services.router.pages.workbench.casepage import case_page
from services.router.pages.workbench.pages import back_to, posted, refused, uuid_or_none
from services.router.pages.workbench.upstream import Answer, Upstream
from shared.auth.keys import Role

router = APIRouter()
ACT_PATH = "/workbench/act"
BAD_ID = "编号无效 (bad id)"
FILES = {"progress": "photo", "resolve": "evidence"}


@router.post(ACT_PATH.removeprefix("/workbench"))
async def act(request: Request) -> Response:
    got = await posted(request, Role.DEPARTMENT)
    if isinstance(got, Response):
        return got
    who, form = got
    action, case_id = form.get("action", ""), uuid_or_none(form.get("case_id"))
    if case_id is None or uuid_or_none(form.get("dispatch_id")) is None:
        return refused(request, who, BAD_ID, 422)
    async with Upstream(request, who.raw) as api:
        answer = await _dispatch_action(request, api, action, form)
    if not answer.ok:
        return await case_page(request, who, case_id, answer.reason, answer.status)
    return back_to(f"/workbench/cases/{case_id}", action)


async def _dispatch_action(
    request: Request, api: Upstream, action: str, form: dict[str, str]
) -> Answer:
    body: dict[str, Any] | None = _body(action, form)
    if body is None and action != "acknowledge":
        return Answer(422, {"detail": f"未知操作 (unknown action {action!r})"})
    if action in FILES:
        upload = await _upload(request, api, FILES[action])
        if upload is not None and not upload.ok:
            return upload
        if upload is not None and body is not None:
            body["attachments"] = [upload.body["attachment_id"]]
    idem = {"Idempotency-Key": form["idem"]} if form.get("idem") else {}
    path = f"/v1/dispatches/{form.get('dispatch_id', '')}/{action}"
    return await api.post("router", path, body, headers=idem)


def _body(action: str, form: dict[str, str]) -> dict[str, Any] | None:
    if action == "return":
        return {"reason_code": form.get("reason_code", ""), "note": form.get("note", "")}
    if action == "progress":
        return {"note": form.get("note", ""), "minutes_spent": form.get("minutes_spent") or 0}
    if action == "extension":
        return {"working_days": form.get("working_days", ""), "reason": form.get("reason", "")}
    if action == "resolve":
        return {"outcome": form.get("outcome", ""), "summary": form.get("summary", "")}
    return None


async def _upload(request: Request, api: Upstream, field: str) -> Answer | None:
    """The file of ``field`` uploaded with the key (None when none was chosen)."""
    item = (await request.form()).get(field)
    if not isinstance(item, UploadFile) or not item.filename:
        return None
    data = await item.read()
    if not data:
        return None
    kind = {"Content-Type": item.content_type or "application/octet-stream"}
    return await api.call("router", "POST", "/v1/attachments", params={"filename": item.filename},
                          content=data, headers=kind)  # fmt: skip
