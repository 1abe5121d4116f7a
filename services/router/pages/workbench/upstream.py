"""The APIs the workbench calls with the signed-in key: the router's own (in process, through
the whole app: middleware, auth, rate limits), intake, escalation and the notifier (by URL,
``services.router.sources``). A refusal comes back with its reason as the API
wrote it (Chinese first), to be shown to the person; an unreachable service is a 503 with
a Chinese reason, never an exception on the page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

import httpx
import structlog
from fastapi import Request

from services.router.sources import Sources

log = structlog.get_logger(__name__)
Service = Literal["router", "intake", "escalation", "notifier"]
SERVICES: tuple[Service, ...] = ("intake", "router", "escalation", "notifier")
TIMEOUT = httpx.Timeout(10.0)
NAMES = {"router": "分派", "intake": "受理", "escalation": "督办", "notifier": "通知"}


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    content: bytes = b""
    content_type: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def reason(self) -> str:
        """Why the API refused (its ``detail``, with each field's reason)."""
        body = self.body if isinstance(self.body, dict) else {}
        text = str(body.get("detail") or f"请求未成功 (HTTP {self.status})")
        errors = [f"{e.get('field', '')}：{e.get('reason', '')}" for e in body.get("errors") or []]
        return "；".join([text, *errors])


class Upstream:
    """One request's clients; use as ``async with Upstream(request, raw) as api``."""

    def __init__(self, request: Request, raw: str) -> None:
        src = Sources.from_env(request.app.state.runtime.settings)
        self._auth = {"Authorization": f"Bearer {raw}"}
        self._bases = {
            "intake": src.intake_url, "escalation": src.escalation_url,
            "notifier": src.notifier_url,
        }  # fmt: skip
        self._app = request.app
        self._clients: dict[str, httpx.AsyncClient] = {}

    async def __aenter__(self) -> Upstream:
        # an error inside the router's own API is its 500 here, as it would be over HTTP
        own = httpx.ASGITransport(app=self._app, raise_app_exceptions=False)
        self._clients["router"] = httpx.AsyncClient(
            transport=own, base_url="http://router", timeout=TIMEOUT
        )
        for name, base in self._bases.items():
            self._clients[name] = httpx.AsyncClient(base_url=base, timeout=TIMEOUT)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for client in self._clients.values():
            await client.aclose()

    async def get(self, service: Service, path: str, **params: Any) -> Answer:
        return await self.call(service, "GET", path, params=params)

    async def post(self, service: Service, path: str, json: Any = None, **kw: Any) -> Answer:
        return await self.call(service, "POST", path, json=json, **kw)

    async def call(
        self, service: Service, method: str, path: str, *,
        headers: Mapping[str, str] | None = None, **kw: Any,
    ) -> Answer:  # fmt: skip
        try:
            r = await self._clients[service].request(
                method, path, headers={**self._auth, **(headers or {})}, **kw
            )
        except httpx.HTTPError as exc:
            log.info("workbench_upstream_unavailable", service=service, error=str(exc))
            down = f"{NAMES[service]}服务暂不可用，请稍后再试 ({service} unavailable)"
            return Answer(503, {"detail": down})
        kind = r.headers.get("content-type", "")
        body = r.json() if "json" in kind else None
        return Answer(r.status_code, body, r.content, kind)
