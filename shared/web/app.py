"""What every service's FastAPI app has: health, readiness, metrics, limits, error mapping.

A dependency that is away (PostgreSQL stopped or restarting, every pooled connection busy
past the pool timeout, RabbitMQ unreachable) answers 503 with ``Retry-After`` and a
Chinese-first reason, never a 500 or a hang: a channel retries the same request (same
``Idempotency-Key``) and gets the answer once the dependency is back. Other database
errors stay 500 (a bug, not an outage).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.domain.errors import Conflict, Invalid, InvalidTransition, NotFound
from shared.logging import configure_logging
from shared.metrics import HTTP_REQUESTS, HTTP_SECONDS
from shared.outages import UNAVAILABLE_TYPES, dependency_unavailable
from shared.runtime import ServiceRuntime, settle_heap
from shared.web.headers import SecurityHeadersMiddleware

log = structlog.get_logger(__name__)
RETRY_AFTER_SECONDS = 3


def build_app(
    *,
    title: str,
    runtime: ServiceRuntime,
    routers: list[Any],
    background: list[Callable[[], Awaitable[None]]] | None = None,
    description: str = "",
    large_body_paths: frozenset[str] = frozenset(),
    body_limits: dict[str, int] | None = None,
    warnings: Callable[[], list[str]] | None = None,
) -> FastAPI:
    settings = runtime.settings
    configure_logging(settings.service_name, settings.log_level, settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start(background=background)
        settle_heap(settings)
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title=title, description=description, version="0.1.0", lifespan=lifespan)
    app.state.runtime = runtime
    app.state.key_cache = {}
    for router in routers:
        app.include_router(router)
    _add_probes(app, runtime, warnings or (lambda: []))
    _add_error_handlers(app)
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        large_paths=large_body_paths,
        large_bytes=settings.max_batch_body_bytes,
        path_limits=body_limits or {},
    )
    app.add_middleware(SecurityHeadersMiddleware)  # outermost: a 413 gets them too
    return app


def _add_probes(app: FastAPI, runtime: ServiceRuntime, warnings: Callable[[], list[str]]) -> None:
    @app.get("/healthz", tags=["ops"], summary="进程存活 (liveness)")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": runtime.name}

    @app.get("/readyz", tags=["ops"], summary="就绪：数据库与消息队列可达 (readiness)")
    async def readyz() -> JSONResponse:
        problems = await runtime.check_ready()
        if problems:
            return JSONResponse(
                {"status": "unavailable", "problems": problems},
                status_code=503,
                headers={"Retry-After": "5"},
            )
        # Warnings (e.g. a calendar year about to start without its holidays) keep the
        # service ready: it works, but an operator must act before it works wrongly.
        body: dict[str, Any] = {"status": "ready", "service": runtime.name}
        if found := warnings():
            body["warnings"] = found
        return JSONResponse(body)

    @app.get("/metrics", tags=["ops"], include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(InvalidTransition)
    async def invalid_transition(_: Request, exc: InvalidTransition) -> JSONResponse:
        return JSONResponse(
            {"detail": exc.reason, "state": str(exc.state), "action": exc.trigger},
            status_code=409,
        )

    @app.exception_handler(NotFound)
    async def not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(Conflict)
    async def conflict(_: Request, exc: Conflict) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.exception_handler(Invalid)
    async def invalid(_: Request, exc: Invalid) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "field": _printable(".".join(str(p) for p in e["loc"][1:]) or str(e["loc"][0])),
                "reason": _printable(e["msg"]),
            }
            for e in exc.errors()
        ]
        return JSONResponse({"detail": "请求内容无效 (invalid request)", "errors": errors}, 422)

    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        part = dependency_unavailable(exc)
        if part is None:
            raise exc  # not an outage: a 500 with its traceback
        return _unavailable(request, part, exc)

    for kind in UNAVAILABLE_TYPES:
        app.add_exception_handler(kind, unavailable)


def _printable(text: str) -> str:
    """``text`` as UTF-8 can carry it: a lone surrogate (an unknown field named ``"\\udfff"``)
    is written as its escape instead of failing the 422's own encoding (a 500)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _unavailable(request: Request, part: str, exc: Exception) -> JSONResponse:
    log.warning(
        "dependency_unavailable",
        part=part,
        method=request.method,
        path=request.url.path,
        error=repr(exc)[:300],
    )
    what = {"database": "数据库", "broker": "消息队列"}[part]
    return JSONResponse(
        {
            "detail": f"服务暂时不可用（{what}不可达或繁忙），请稍后再试 ({part} unavailable)",
            "retry_after": RETRY_AFTER_SECONDS,
        },
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


class MetricsMiddleware:
    """Counts requests and latency by route template (never by raw path: bounded labels)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_holder = {"code": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            method = scope.get("method", "GET")
            HTTP_REQUESTS.labels(method, path, str(status_holder["code"])).inc()
            HTTP_SECONDS.labels(method, path).observe(time.perf_counter() - started)


class BodyLimitMiddleware:
    """Refuses bodies over the limit with 413 before anything reads them (batch routes,
    ``large_paths``, have the larger ``large_bytes``; a path in ``path_limits`` has its
    own, e.g. attachment uploads)."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        large_paths: frozenset[str] = frozenset(),
        large_bytes: int = 0,
        path_limits: dict[str, int] | None = None,
    ) -> None:
        self.app = app
        self.path_limits = path_limits or {}
        self.default_bytes = max_bytes
        self.large_paths = large_paths
        self.large_bytes = max(large_bytes, max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path")
        limit = self.large_bytes if path in self.large_paths else self.default_bytes
        limit = self.path_limits.get(path, limit) if isinstance(path, str) else limit
        await self._limited(limit, scope, receive, send)

    async def _limited(self, max_bytes: int, scope: Scope, receive: Receive, send: Send) -> None:
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            await _too_large(max_bytes)(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLarge:
            await _too_large(max_bytes)(scope, receive, send)


class _BodyTooLarge(Exception):
    pass


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse(
        {"detail": f"请求体超过 {limit} 字节上限 (body too large)", "limit": limit}, status_code=413
    )
