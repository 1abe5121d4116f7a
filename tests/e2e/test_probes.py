"""Health, readiness and metrics as an ops team relies on them."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.auth.keys import Role
from shared.domain.calendar import SHANGHAI
from tests.support.services import ROOT, ServiceProcs, free_port
from tests.support.stack import StackUnderTest
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


async def test_every_service_is_ready_and_exports_prometheus_metrics(
    services: ServiceProcs,
) -> None:
    async with httpx.AsyncClient(timeout=5) as http:
        for name in ("intake", "router", "escalation", "notifier"):
            assert (await http.get(f"{services.url(name)}/healthz")).json()["status"] == "ok"
            ready = await http.get(f"{services.url(name)}/readyz")
            assert ready.status_code == 200, ready.text
            metrics = (await http.get(f"{services.url(name)}/metrics")).text
            assert "shaobao_http_requests_total" in metrics
            assert "shaobao_outbox_lag_seconds" in metrics


@pytest.mark.parametrize(
    ("broken", "part"),
    [
        ({"SHAOBAO_AMQP_URL": "amqp://shaobao:shaobao@127.0.0.1:1/"}, "broker"),
        (
            {"SHAOBAO_DATABASE_URL": "postgresql+asyncpg://shaobao:shaobao@127.0.0.1:1/none"},
            "database",
        ),
    ],
)
async def test_readiness_is_503_with_the_reason_while_a_dependency_is_unreachable(
    stack: StackUnderTest, tmp_path: Path, broken: dict[str, str], part: str
) -> None:
    port = free_port()
    proc = _start_intake(stack, tmp_path, port, broken)
    try:
        async with httpx.AsyncClient(timeout=5) as http:

            async def up() -> httpx.Response | None:
                try:
                    return await http.get(f"http://127.0.0.1:{port}/readyz")
                except httpx.HTTPError:
                    return None

            ready = await eventually(up, what="intake answering")
            assert ready.status_code == 503
            assert ready.headers["retry-after"]
            assert part in ready.json()["problems"]
            assert (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def _start_intake(
    stack: StackUnderTest, tmp_path: Path, port: int, env: dict[str, str], service: str = "intake"
) -> subprocess.Popen[bytes]:
    log = open(tmp_path / f"{service}.log", "wb")
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", f"services.{service}.app:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, env=stack.env(**env), stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip


async def test_a_key_over_its_rate_gets_429_with_retry_after(
    stack: StackUnderTest, tmp_path: Path, keys: Any
) -> None:
    port = free_port()
    limits = {"SHAOBAO_RATE_LIMIT_PER_SECOND": "0.2", "SHAOBAO_RATE_LIMIT_BURST": "3"}
    proc = _start_intake(stack, tmp_path, port, limits)
    channel = await keys.make(Role.CHANNEL, channel="wechat")
    url = f"http://127.0.0.1:{port}/v1/cases/01a20000-0000-7000-8000-000000000000"
    try:
        async with httpx.AsyncClient(timeout=5) as http:

            async def ready() -> bool:
                try:
                    return (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200
                except httpx.HTTPError:
                    return False

            await eventually(ready, what="intake ready")
            answers = [(await http.get(url, headers=channel)) for _ in range(4)]
        assert [a.status_code for a in answers] == [404, 404, 404, 429]
        assert int(answers[-1].headers["retry-after"]) >= 1
        assert "频繁" in answers[-1].json()["detail"]
    finally:
        proc.terminate()
        proc.wait(timeout=15)


@pytest.mark.parametrize("service", ["router", "escalation"])
async def test_readiness_warns_of_a_year_without_a_working_calendar(
    stack: StackUnderTest, tmp_path: Path, service: str
) -> None:
    """The services that count working days stay ready but say which year lacks its holidays
    (here: a calendar folder with no year at all, so this year is missing whatever the date)."""
    (tmp_path / "calendar").mkdir()
    port = free_port()
    proc = _start_intake(
        stack, tmp_path, port, {"SHAOBAO_CALENDAR_DIR": str(tmp_path / "calendar")}, service
    )
    try:
        async with httpx.AsyncClient(timeout=5) as http:

            async def ready() -> httpx.Response | None:
                try:
                    r = await http.get(f"http://127.0.0.1:{port}/readyz")
                except httpx.HTTPError:
                    return None
                return r if r.status_code == 200 else None

            answer = (await eventually(ready, timeout=60, what=f"{service} ready")).json()
        this_year = datetime.now(SHANGHAI).year
        assert any(w.startswith(f"{this_year} 年工作日历缺失") for w in answer["warnings"])
    finally:
        proc.terminate()
        proc.wait(timeout=15)
