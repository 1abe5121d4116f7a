"""The console in headless Chromium against the running stack: the numbers it shows match
``GET /v1/reports/kpis`` and the cases themselves; a screenshot goes to docs/console.png.
Also: the running services export the metrics the issue names, with their labels, and the
broker exports the ``rabbitmq_*`` names the Grafana dashboard uses.

Chromium is Debian's ``chromium`` package; without it the browser test is skipped.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
import secrets
import shutil
import signal
import tempfile
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest

from shared.auth.keys import Role
from tests.e2e.conftest import Keys
from tests.support.services import ServiceProcs
from tests.support.stack import StackUnderTest
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
HERE = {"district": "d01", "street": "s01", "community": "c01", "grid": "g01", "compound": "k01"}
CHROMIUM = shutil.which("chromium")
RABBIT_METRICS = "http://127.0.0.1:55692/metrics/per-object"


async def chromium(*args: str) -> str:
    with tempfile.TemporaryDirectory() as profile:
        proc = await asyncio.create_subprocess_exec(
            CHROMIUM or "chromium", "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", f"--user-data-dir={profile}", *args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=90)
    return out.decode("utf-8", "replace")


class Office:
    """Submits cases and acts on their dispatches through the public API."""

    def __init__(self, http: httpx.AsyncClient, services: ServiceProcs, keys: Keys) -> None:
        self.http, self.services, self.keys = http, services, keys
        self.ops: dict[str, str] = {}

    async def submit(self, category: str, title: str) -> str:
        channel = await self.keys.make(Role.CHANNEL, channel="grid_app")
        body = {"category": category, "title": title, "description": title, "location": HERE,
                "external_id": f"C-{secrets.token_hex(4)}",
                "petitioner": {"name": "李先生", "phone": f"137{secrets.randbelow(10**8):08d}"}}  # fmt: skip
        r = await self.http.post(
            f"{self.services.url('intake')}/v1/cases", json=body, headers=channel
        )
        assert r.status_code == 201, r.text
        return str(r.json()["case_id"])

    async def case(self, case_id: str) -> dict[str, Any]:
        r = await self.http.get(
            f"{self.services.url('router')}/v1/cases/{case_id}", headers=self.ops
        )
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def dispatched(self, case_id: str) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            c = await self.case(case_id)
            return c if c["state"] == "dispatched" and c["dispatches"] else None

        return await eventually(probe, what=f"case {case_id} dispatched")

    async def act(self, d: dict[str, Any], action: str, body: dict[str, Any] | None = None) -> None:
        dept = await self.keys.make(Role.DEPARTMENT, owner=d["owner_id"])
        url = f"{self.services.url('router')}/v1/dispatches/{d['dispatch_id']}/{action}"
        r = await self.http.post(url, json=body, headers=dept)
        assert r.status_code == 200, r.text


@asynccontextmanager
async def sign_in_page(console: str, raw_key: str, window: dict[str, str]) -> AsyncIterator[str]:
    """A page on another port of 127.0.0.1 (the same site, so the SameSite=Strict cookie
    goes along) that posts the console's sign-in form at once: the browser signs in the
    way a person does and lands on the console with the window asked for."""
    fields = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in ({"key": raw_key} | window).items()
    )
    page = (
        f'<!doctype html><form method="post" action="{console}/console/login">{fields}</form>'
        "<script>document.forms[0].submit()</script>"
    ).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.send_header("content-length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def lead_of(case: dict[str, Any]) -> dict[str, Any]:
    return next(d for d in case["dispatches"] if d["role"] == "lead")


async def restart_router_with_console_sources(services: ServiceProcs) -> None:
    """The console finds intake and escalation by URL; in tests they run on free ports."""
    services.env_extra.update(
        SHAOBAO_CONSOLE_INTAKE_URL=services.url("intake"),
        SHAOBAO_CONSOLE_ESCALATION_URL=services.url("escalation"),
    )
    services.kill("router", signal.SIGTERM)
    services.start("router")
    await services.wait_ready("router")


async def make_overdue(stack: StackUnderTest, dispatch_id: str) -> None:
    """Arrange: this dispatch's resolve deadline passed an hour ago (no test clock here)."""
    conn = await asyncpg.connect(stack.raw_database_url)
    try:
        await conn.execute(
            "UPDATE router.dispatches SET resolve_due_at = now() - interval '1 hour' "
            "WHERE dispatch_id = $1",
            UUID(dispatch_id),
        )
    finally:
        await conn.close()


def shown(dom: str, attr: str) -> dict[str, str]:
    """``data-<attr>="name">value<`` pairs the page shows."""
    return dict(re.findall(rf'data-{attr}="([^"]+)"[^>]*>([^<]*)<', dom))


@pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)"
)
async def test_the_console_shows_the_numbers_the_api_reports(
    services: ServiceProcs, keys: Keys, stack: StackUnderTest
) -> None:
    await restart_router_with_console_sources(services)
    start = datetime.now(UTC) - timedelta(seconds=1)
    async with httpx.AsyncClient(timeout=10) as http:
        office = Office(http, services, keys)
        office.ops = await keys.make(Role.OPS)
        # Three categories, none served by wy-xingfu/wb-anda (the webhook test's owners: a
        # delivery still retrying for them would eat that test's planned failures).
        working, waiting, resolving = (
            await office.submit("environment.cooking_fume", "底商烧烤油烟扰民"),
            await office.submit("animal.stray_dog", "流浪犬伤人隐患"),
            await office.submit("housing.delivery_risk", "楼盘逾期交付风险"),
        )
        lead = lead_of(await office.dispatched(working))
        await office.act(lead, "acknowledge")
        await office.act(lead, "progress", {"note": "已约谈商户", "minutes_spent": 30})
        overdue = lead_of(await office.dispatched(waiting))
        await make_overdue(stack, overdue["dispatch_id"])
        for d in (await office.dispatched(resolving))["dispatches"][::-1]:  # co-handlers first
            await office.act(d, "acknowledge")
            await office.act(d, "resolve", {"outcome": "resolved", "summary": "已约谈开发商"})

        query = {"from": start.isoformat()}
        api = await http.get(
            f"{services.url('router')}/v1/reports/kpis", params=query, headers=office.ops
        )
        assert api.status_code == 200, api.text
        kpis = api.json()
        street = (
            await http.get(
                f"{services.url('router')}/v1/reports/kpis",
                params=query | {"area": "d01.s01"},
                headers=office.ops,
            )
        ).json()
        elsewhere = await http.get(
            f"{services.url('router')}/v1/reports/kpis",
            params=query | {"area": "d01.s02"},
            headers=office.ops,
        )
        bad = await http.get(
            f"{services.url('router')}/v1/reports/kpis",
            params={"area": "d01..x"},
            headers=office.ops,
        )
        states = [(await office.case(c))["state"] for c in (working, waiting, resolving)]
        queues = await http.get(f"{services.url('router')}/v1/reports/queues", headers=office.ops)

    total = kpis["total"]
    assert sorted(states) == ["awaiting_feedback", "dispatched", "in_progress"]
    assert total["cases"] == 3
    assert total["by_state"] == {s: 1 for s in states}
    assert total["minutes_spent"] == 30
    assert total["open_overdue"] == 1
    assert kpis["by_owner"][overdue["owner_id"]]["open_overdue"] == 1
    assert total["avg_handling_working_days"] is not None  # the resolved one
    assert (street["group_level"], list(street["by_area"])) == ("community", ["d01.s01.c01"])
    assert street["total"]["cases"] == 3 and elsewhere.json()["total"]["cases"] == 0
    assert bad.status_code == 422
    assert queues.status_code == 200, queues.text
    by_name = {q["name"]: q for q in queues.json()}
    assert by_name["shaobao.router.dlq"]["dead_letter"] and "shaobao.router" in by_name

    raw_key = office.ops["Authorization"].removeprefix("Bearer ")
    async with sign_in_page(services.url("router"), raw_key, query) as url:
        dom = await chromium("--virtual-time-budget=20000", "--dump-dom", url)
    assert "运行监控台" in dom, dom[:2000]
    funnel = {k: int(v) for k, v in shown(dom, "funnel").items()}
    assert {k: v for k, v in funnel.items() if v} == total["by_state"]
    kpi = shown(dom, "kpi")
    assert int(kpi["cases"]) == 3 and int(kpi["minutes_spent"]) == 30
    assert shown(dom, "overdue") == {overdue["owner_id"]: "1"}
    assert 'data-queue="shaobao.router"' in dom  # live queue depths from RabbitMQ
    assert 'data-source="queues"' not in dom
    chart = dict(re.findall(r'data-day="([^"]+)" data-count="(\d+)"', dom))
    assert sum(int(n) for n in chart.values()) == 3
    assert raw_key not in dom  # the key went into an HttpOnly cookie, not the page

    png = ROOT / "docs" / "console.png"
    async with sign_in_page(services.url("router"), raw_key, query) as url:
        await chromium(
            "--virtual-time-budget=20000", f"--screenshot={png}", "--window-size=1280,1600", url
        )
    assert png.exists() and png.stat().st_size > 10_000


async def test_the_console_asks_for_a_key_and_refuses_the_wrong_role(
    services: ServiceProcs, keys: Keys
) -> None:
    channel = await keys.make(Role.CHANNEL, channel="wechat")
    async with httpx.AsyncClient(timeout=10, base_url=services.url("router")) as http:
        page = await http.get("/console")
        assert page.status_code == 200 and 'name="key"' in page.text
        wrong = channel["Authorization"].removeprefix("Bearer ")
        refused = await http.post("/console/login", content=f"key={wrong}",
                                  headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
        assert refused.status_code == 401 and "密钥无效" in refused.text
        ops = (await keys.make(Role.OPS))["Authorization"].removeprefix("Bearer ")
        ok = await http.post("/console/login", content=f"key={ops}",
                             headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
        assert ok.status_code == 303
        assert "httponly" in ok.headers["set-cookie"].lower()
        assert (await http.get("/console")).status_code == 200
        assert (await http.get("/console/static/console.css")).status_code == 200
        assert (await http.get("/console/static/..%2Fsources.py")).status_code == 404


REQUIRED = {
    "shaobao_events_consumed_total": {"type", "outcome"},
    "shaobao_events_published_total": {"type"},
    "shaobao_http_requests_total": {"method", "route", "status"},
    "shaobao_outbox_lag_seconds": set(),
    "shaobao_dead_letters_total": {"queue", "reason"},
    "shaobao_deliveries_total": {"outcome"},
}


async def test_running_services_export_the_metrics_the_issue_names(
    services: ServiceProcs, keys: Keys
) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        office = Office(http, services, keys)
        office.ops = await keys.make(Role.OPS)
        await office.dispatched(await office.submit("environment.cooking_fume", "油烟直排"))
        texts = [(await http.get(f"{services.url(s)}/metrics")).text
                 for s in ("intake", "router", "escalation", "notifier")]  # fmt: skip
    text = "\n".join(texts)
    for name, labels in REQUIRED.items():
        assert f"# TYPE {name} " in text, f"{name} not exported"
        for sample in re.findall(rf"^{name}\{{(.*)\}} \S+$", text, re.M):
            assert set(re.findall(r'(\w+)="', sample)) == labels, (name, sample)
    consumed = re.findall(r'^shaobao_events_consumed_total\{[^}]*type="case\.received"', text, re.M)
    assert consumed, "the router consumed case.received but no sample says so"
    assert re.search(r'^shaobao_http_requests_total\{method="POST",route="/v1/cases"', text, re.M)


async def test_the_dashboard_rabbitmq_names_exist_on_the_broker() -> None:
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            text = (await http.get(RABBIT_METRICS)).text
    except httpx.HTTPError as exc:
        pytest.skip(f"RabbitMQ prometheus endpoint unreachable: {exc}")
    dashboard = (ROOT / "deploy" / "grafana" / "shaobao-dashboard.json").read_text()
    exprs = [t["expr"] for p in json.loads(dashboard)["panels"] for t in p["targets"]]
    names = {m for e in exprs for m in re.findall(r"\b(rabbitmq_[a-z0-9_]+)", e)}
    assert names
    for name in names:
        assert re.search(rf"^{name}\{{[^}}]*queue=", text, re.M), f"{name} (per queue) not exported"


async def test_the_console_takes_its_key_by_form_only_and_sends_a_strict_policy(
    services: ServiceProcs, keys: Keys
) -> None:
    ops = (await keys.make(Role.OPS))["Authorization"].removeprefix("Bearer ")
    async with httpx.AsyncClient(timeout=10, base_url=services.url("router")) as http:
        in_url = await http.get("/console", params={"key": ops, "area": "d01"})
        assert in_url.status_code == 400 and "表单" in in_url.text, in_url.text[:300]
        assert "set-cookie" not in in_url.headers
        assert 'name="area" value="d01"' in in_url.text  # the form carries the window on

        form = {"key": ops, "from": "2026-01-01T00:00:00+08:00", "area": "d01"}
        signed = await http.post(
            "/console/login", data=form, headers={"X-Forwarded-Proto": "https"}
        )
        assert signed.status_code == 303, signed.text
        assert (
            signed.headers["location"] == "/console?from=2026-01-01T00%3A00%3A00%2B08%3A00&area=d01"
        )
        cookie = signed.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "secure" in cookie
        assert "secure" not in (await http.post("/console/login", data={"key": ops})).headers[
            "set-cookie"
        ].lower().split("; ")  # plain http: a Secure cookie would never come back

        page = await http.get("/console")
        assert page.status_code == 200 and "运行监控台" in page.text
        csp = page.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert not re.search(r"<script(?![^>]*\bsrc=)", page.text), "inline script"
        assert " style=" not in page.text, "inline style"
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["referrer-policy"] == "no-referrer"
        assert page.headers["cache-control"] == "no-store"

    async with httpx.AsyncClient(timeout=10) as http:
        for service in ("intake", "router", "escalation", "notifier"):
            r = await http.get(f"{services.url(service)}/healthz")
            assert r.headers["x-content-type-options"] == "nosniff", service
            assert r.headers["x-frame-options"] == "DENY", service
            assert r.headers["content-security-policy"].startswith("default-src 'none'"), service
