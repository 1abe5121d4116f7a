"""Signing in to the router's pages (the console and the workbench) with an API key.

The key is posted in a form (``POST …/login``, rate-limited per client address by the
route's ``AnonymousLimit``), checked like a bearer key (failures count toward the
address's limit), and kept in an HttpOnly, SameSite=Strict cookie scoped to the pages'
path (8 hours; Secure when served over https). A key in a URL (``?key=``) is refused
with 400 and never checked: URLs end up in browser history, proxy logs and Referer
headers. Pages carry a Content-Security-Policy without inline script or style
(:data:`shared.web.headers.PAGE_CSP`) and are never cached.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from urllib.parse import parse_qs

from fastapi import HTTPException, Request, Response
from fastapi.responses import FileResponse, RedirectResponse

from shared.auth.dependency import check_key
from shared.auth.keys import ApiKey, Role
from shared.web.headers import PAGE_CSP

COOKIE_SECONDS = 8 * 3600
PAGE_HEADERS = {"Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-store"}
KEY_IN_URL = (
    "密钥不能放在网址中（网址会留在浏览记录、代理日志和 Referer 里），请用下方表单登录，"
    "并请更换该密钥 (a key in the URL is refused: sign in with the form, and rotate the key)"
)


async def verify(request: Request, raw: str | None, roles: Collection[Role]) -> ApiKey | None:
    """The key's scope when it is good and of one of ``roles``, else None."""
    if not raw:
        return None
    key = await check_key(request, raw)  # failed checks count toward the address's limit
    return key if key is not None and key.role in roles else None


async def read_form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body, first value of each field."""
    body = (await request.body()).decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


def keep_cookie(response: Response, request: Request, name: str, value: str, path: str) -> None:
    response.set_cookie(name, value, max_age=COOKIE_SECONDS, path=path, httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")  # fmt: skip


def signed_out(path: str, cookie: str) -> Response:
    """Sign out of a page family: its session cookie gone, back to its sign-in page."""
    resp = RedirectResponse(path, status_code=303)
    resp.delete_cookie(cookie, path=path)
    return resp


def static_file(folder: Path, types: Mapping[str, str], name: str) -> FileResponse:
    """One of a page family's own static files (``types``: name → media type), else 404."""
    if name not in types:
        raise HTTPException(404, "not found")
    return FileResponse(folder / name, media_type=types[name],
                        headers={"Cache-Control": "max-age=300"})  # fmt: skip
