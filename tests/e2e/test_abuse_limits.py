"""What an abusive client meets on the running services (issue 17 #12, #13).

Routes without a key and failed key checks are limited per client address (429 with
Retry-After and a Chinese reason); the shared services here are called "from" addresses
of TEST-NET-3 through ``X-Forwarded-For``, which uvicorn takes from its trusted proxy
(127.0.0.1), so 127.0.0.1 itself, used by every other test, is never throttled. Slow
clients are cut off: an intake of its own runs with deadlines of a second and a half.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.auth.keys import Role
from shared.db.migrate import migrate_all_async
from tests.e2e.conftest import Keys
from tests.support.services import ServiceProcs
from tests.support.stack import StackUnderTest, create_stack, drop_stack

pytestmark = pytest.mark.e2e
DEADLINE = 1.5


def address() -> dict[str, str]:
    """A client address of its own (RFC 5737 TEST-NET-3), as a trusted proxy reports it."""
    return {"X-Forwarded-For": f"203.0.113.{secrets.randbelow(254) + 1}"}


def bad_key() -> str:
    return f"sbk_{secrets.token_hex(6)}_{secrets.token_urlsafe(18).replace('_', '-')}"


async def flood(
    http: httpx.AsyncClient, method: str, url: str, n: int, **kw: Any
) -> list[httpx.Response]:
    return list(await asyncio.gather(*(http.request(method, url, **kw) for _ in range(n))))


@pytest.mark.parametrize(
    ("service", "method", "path", "body"),
    [
        ("notifier", "GET", "/v1/notices", {}),
        ("intake", "POST", "/v1/feedback/not-a-token", {"json": {"rating": "satisfied"}}),
        ("router", "POST", "/console/login", {"data": {"key": "not-a-key"}}),
    ],
)
async def test_a_route_without_a_key_answers_429_past_one_addresses_burst(
    services: ServiceProcs, service: str, method: str, path: str, body: dict[str, Any]
) -> None:
    url, me = f"{services.url(service)}{path}", address()
    async with httpx.AsyncClient(timeout=30) as http:
        answers = await flood(http, method, url, 200, headers=me, **body)
        codes = [r.status_code for r in answers]
        assert codes.count(429) >= 100, codes  # burst 60 and 10/s: most of 200 at once wait
        refused = next(r for r in answers if r.status_code == 429)
        assert int(refused.headers["retry-after"]) >= 1
        assert "请稍后再试" in refused.json()["detail"]  # (console: failed keys count too)
        other = await http.request(method, url, headers=address(), **body)
        assert other.status_code != 429, "another address has its own bucket"


async def test_failed_key_checks_answer_429_past_the_burst_without_locking_out_a_good_key(
    services: ServiceProcs, keys: Keys
) -> None:
    url, me = f"{services.url('router')}/v1/owners", address()
    good = await keys.make(Role.OPS)
    async with httpx.AsyncClient(timeout=30) as http:
        assert (await http.get(url, headers=me | good)).status_code == 200  # known good now
        codes = [
            (await http.get(url, headers=me | {"Authorization": f"Bearer {bad_key()}"})).status_code
            for _ in range(40)
        ]
        assert set(codes) == {401, 429} and codes.count(401) <= 25, codes
        refused = await http.get(url, headers=me | {"Authorization": f"Bearer {bad_key()}"})
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        assert "密钥校验失败次数过多" in refused.json()["detail"]
        assert (await http.get(url, headers=me | good)).status_code == 200
        elsewhere = address() | {"Authorization": f"Bearer {bad_key()}"}
        assert (await http.get(url, headers=elsewhere)).status_code == 401


# --- slow clients ----------------------------------------------------------------------------


@pytest.fixture(
    scope="module",
    params=["shared.web.server:GuardedHttpToolsProtocol", "shared.web.server:GuardedH11Protocol"],
    ids=["httptools", "h11"],
)
async def slow_intake(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """An intake with 1.5 s header and body deadlines, on a stack of its own, on each of
    the two protocols (httptools is the one deployed; h11 the fallback)."""
    stack: StackUnderTest = await create_stack("slow")
    await migrate_all_async(stack.database_url)
    procs = ServiceProcs(
        stack=stack,
        log_dir=Path(tmp_path_factory.mktemp("slow-logs")),
        env_extra={
            "SHAOBAO_HTTP_HEADER_TIMEOUT_SECONDS": str(DEADLINE),
            "SHAOBAO_HTTP_BODY_TIMEOUT_SECONDS": str(DEADLINE),
        },
        protocol=request.param,
    )
    try:
        procs.start("intake")
        await procs.wait_ready("intake")
        yield procs.url("intake")
    finally:
        procs.stop_all()
        await drop_stack(stack)


async def held_for(port: int, first: bytes, trickle: bytes) -> tuple[bytes, float]:
    """Send ``first``, then ``trickle`` every 0.3 s (as slowloris does) until the server
    closes; what it answered and after how long. A close while our bytes are still on
    their way may arrive as a reset that swallows the 408: then the answer is empty."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    writer.write(first)

    async def drip() -> None:
        while not writer.is_closing():
            await asyncio.sleep(0.3)  # the client's pace, not a wait for the server
            writer.write(trickle)
            await writer.drain()

    dripping = asyncio.create_task(drip())
    try:
        answer = await asyncio.wait_for(reader.read(), timeout=15)  # until the server closes
    except ConnectionResetError:
        answer = b""
    finally:
        dripping.cancel()
        writer.close()
    return answer, time.monotonic() - started


async def test_a_client_that_never_finishes_its_headers_is_cut_off_with_408(
    slow_intake: str,
) -> None:
    port = int(slow_intake.rsplit(":", 1)[1])
    answer, seconds = await held_for(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n", b"X-a: b\r\n")
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert answer == b"" or "请求超时".encode() in answer
    assert DEADLINE - 0.2 < seconds < DEADLINE + 2.5, seconds


async def test_a_body_that_never_arrives_whole_is_cut_off_with_408(slow_intake: str) -> None:
    port = int(slow_intake.rsplit(":", 1)[1])
    head = (
        b"POST /v1/cases HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
        b"content-length: 5000\r\n\r\n{"
    )
    answer, seconds = await held_for(port, head, b" ")
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert seconds < DEADLINE + 2.5, seconds


async def test_a_prompt_client_is_not_hurried(slow_intake: str) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        for _ in range(3):  # one keep-alive connection, several requests
            assert (await http.get(f"{slow_intake}/healthz")).status_code == 200
