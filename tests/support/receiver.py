"""A webhook receiver in the test process: checks signatures, can be told to fail."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shared.security.signing import DELIVERY_HEADER, verify
from tests.support.services import free_port


class WebhookReceiver:
    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.port = free_port()
        self.accepted: list[dict[str, Any]] = []
        self.delivery_ids: list[str] = []  # the X-Shaobao-Delivery of each accepted post
        self.rejected_signatures = 0
        self.fail_next = 0
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def _handle(self, request: Request) -> JSONResponse:
        body = await request.body()
        if self.fail_next > 0:
            self.fail_next -= 1
            return JSONResponse({"detail": "temporarily down"}, status_code=503)
        if not verify(self.secret, dict(request.headers), body, time.time()):
            self.rejected_signatures += 1
            return JSONResponse({"detail": "bad signature"}, status_code=401)
        self.accepted.append(await request.json())
        self.delivery_ids.append(request.headers.get(DELIVERY_HEADER, ""))
        return JSONResponse({"ok": True})

    async def __aenter__(self) -> WebhookReceiver:
        app = Starlette(routes=[Route("/hook", self._handle, methods=["POST"])])
        self._server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            await asyncio.sleep(0.02)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server and self._task
        self._server.should_exit = True
        await self._task
