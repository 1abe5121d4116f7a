"""Shared pieces of the workbench's browser tests: Chromium through Playwright (Debian's
``/usr/bin/chromium``: Playwright's own download is not used), the router restarted with
the addresses of the other services, cases arranged through the public API, and the
screenshots that go to docs/workbench/ (``SHAOBAO_SCREENSHOTS=1``, or always when the
folder is writable and the flag is set by scripts/workbench_screenshots.py)."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import struct
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Browser, Page, async_playwright

from shared.auth.keys import Role
from tests.e2e.conftest import Keys
from tests.e2e.intake_helpers import HEPINGLI, case, phone
from tests.support.services import ServiceProcs
from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "workbench"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HAS_CHROMIUM = Path(CHROMIUM).exists()


def png(width: int = 160, height: int = 120, tint: int = 0) -> bytes:
    """A small real PNG (a gradient), so the page has a picture to show."""
    rows = b"".join(
        b"\x00"
        + b"".join(bytes(((x * 255) // width, (y * 255) // height, tint)) for x in range(width))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    head = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", head)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


async def restart_router_with_sources(services: ServiceProcs) -> None:
    """The workbench finds intake, escalation and the notifier by URL (free ports here)."""
    wanted = {
        "SHAOBAO_CONSOLE_INTAKE_URL": services.url("intake"),
        "SHAOBAO_CONSOLE_ESCALATION_URL": services.url("escalation"),
        "SHAOBAO_CONSOLE_NOTIFIER_URL": services.url("notifier"),
    }
    if all(services.env_extra.get(k) == v for k, v in wanted.items()):
        return
    services.env_extra.update(wanted)
    services.kill("router", signal.SIGTERM)
    services.start("router")
    await services.wait_ready("router")


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--lang=zh-CN"]
        )
        try:
            yield browser
        finally:
            await browser.close()


async def signed_in(browser: Browser, base: str, key: dict[str, str], person: str = "") -> Page:
    """A fresh browser context signed in to the workbench with ``key``."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = await context.new_page()
    await page.goto(f"{base}/workbench")
    await page.fill("input[name=key]", key["Authorization"].removeprefix("Bearer "))
    if person:
        await page.fill("input[name=person]", person)
    await page.click("button:has-text('登录')")
    await page.wait_for_url(f"{base}/workbench")
    return page


async def shot(page: Page, name: str) -> None:
    """A full-page screenshot into docs/workbench/ when asked (SHAOBAO_SCREENSHOTS=1)."""
    if os.environ.get("SHAOBAO_SCREENSHOTS") == "1":
        SHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


class Arrange:
    """Cases and dispatch actions through the public API (what the browser does not do)."""

    def __init__(self, http: httpx.AsyncClient, services: ServiceProcs, keys: Keys) -> None:
        self.http, self.services, self.keys = http, services, keys
        self.ops: dict[str, str] = {}
        self._depts: dict[str, dict[str, str]] = {}

    def url(self, service: str, path: str) -> str:
        return self.services.url(service) + path

    async def start(self) -> Arrange:
        self.ops = await self.keys.make(Role.OPS)
        return self

    async def dept(self, owner: str) -> dict[str, str]:
        if owner not in self._depts:
            self._depts[owner] = await self.keys.make(Role.DEPARTMENT, owner=owner)
        return self._depts[owner]

    async def submit(
        self, category: str, title: str, description: str, *, number: str = "",
        photo: bytes | None = None,
    ) -> str:  # fmt: skip
        channel = await self.keys.make(Role.CHANNEL, channel="hotline_12345")
        body = case(category, title, HEPINGLI, external_id=f"WB-{secrets.token_hex(4)}",
                    description=description, address="和平里小区3号楼2单元",
                    petitioner={"name": "赵女士", "phone": number or phone()})  # fmt: skip
        if photo is not None:
            r = await self.http.post(self.url("intake", "/v1/attachments"), content=photo,
                                     params={"filename": "现场.png"},
                                     headers=channel | {"Content-Type": "image/png"})  # fmt: skip
            assert r.status_code == 201, r.text
            body["attachments"] = [r.json()["attachment_id"]]
        r = await self.http.post(self.url("intake", "/v1/cases"), json=body, headers=channel)
        assert r.status_code == 201, r.text
        return str(r.json()["case_id"])

    async def case(self, case_id: str) -> dict[str, Any]:
        r = await self.http.get(self.url("router", f"/v1/cases/{case_id}"), headers=self.ops)
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def dispatched(self, case_id: str) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            r = await self.http.get(self.url("router", f"/v1/cases/{case_id}"), headers=self.ops)
            found = r.json() if r.status_code == 200 else {}
            return found if found.get("dispatches") else None

        return await eventually(probe, what=f"case {case_id} dispatched")

    async def act(self, dispatch: dict[str, Any], action: str, body: Any = None) -> None:
        url = self.url("router", f"/v1/dispatches/{dispatch['dispatch_id']}/{action}")
        r = await self.http.post(url, json=body, headers=await self.dept(dispatch["owner_id"]))
        assert r.status_code == 200, r.text

    async def resolve_all(self, case_id: str) -> None:
        """Every dispatch acknowledged and resolved (co-handlers first), then the case
        awaits its rating at intake."""
        found = await self.dispatched(case_id)
        for d in sorted(found["dispatches"], key=lambda d: d["role"] == "lead"):
            await self.act(d, "acknowledge")
            await self.act(d, "resolve", {"outcome": "resolved", "summary": "已处理完毕"})

        async def rated_next() -> bool:
            r = await self.http.get(self.url("intake", f"/v1/cases/{case_id}"), headers=self.ops)
            return r.status_code == 200 and r.json()["status"] == "resolved"

        await eventually(rated_next, what=f"case {case_id} resolved at intake")


def lead_of(found: dict[str, Any]) -> dict[str, Any]:
    return next(d for d in found["dispatches"] if d["role"] == "lead")
