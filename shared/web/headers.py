"""Security headers on every response of every service.

An API answer is data, never a page: ``default-src 'none'`` and ``frame-ancestors 'none'``
keep a browser from running or framing anything it gets. Pages that are meant for a
browser set their own, narrower policy (the console: :data:`PAGE_CSP`) and keep it; the
interactive API docs (``/docs``, ``/redoc``) load Swagger UI and ReDoc from their CDN with
inline scripts, so they get no CSP, only the frame and sniffing headers.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
DOC_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})
_ALWAYS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
_CSP = b"content-security-policy"


class SecurityHeadersMiddleware:
    """Adds nosniff, frame denial, no referrer, and a CSP unless the response has one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with_csp = scope.get("path") not in DOC_PATHS

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                headers += [(n, v) for n, v in _ALWAYS if n not in names]
                if with_csp and _CSP not in names:
                    headers.append((_CSP, API_CSP.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
