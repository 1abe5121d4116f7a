"""The fault suite's system: its own PostgreSQL and RabbitMQ, the four services, receivers.

Everything here is session-scoped and shared by the faults, which run one after another
(each audits only the cases of its own load). The table of results is printed at the end of
the session and written to ``$SHAOBAO_FAULTS_REPORT`` when set (``scripts/faults.sh``).
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from shared.auth.keys import Role, create_key
from shared.db.engine import make_engine
from shared.db.migrate import migrate_all_async
from tests.faults.harness import STATE_DIR, OwnServers, Receiver, Routes
from tests.support.services import SERVICES, ServiceProcs
from tests.support.stack import StackUnderTest, create_stack, drop_stack

# The owner whose endpoint the hanging-receiver fault hangs: the only owner of the
# cooking-fume cases, so three categories in four keep other owners' deliveries flowing.
HUNG_OWNER = "d01-sthj"

# SHAOBAO_FAULTS_KEEP=1 keeps the servers, the database and the vhost after the run, to look.
KEEP = os.environ.get("SHAOBAO_FAULTS_KEEP") == "1"
LOCK_WAIT_SECONDS = 150.0  # within the first test's timeout, which its setup counts against

WEBHOOK_TIMEOUT = 3.0
SERVICE_ENV = {
    "SHAOBAO_WEBHOOK_BACKOFF_BASE_SECONDS": "0.2",
    "SHAOBAO_WEBHOOK_TIMEOUT_SECONDS": str(WEBHOOK_TIMEOUT),
    "SHAOBAO_NOTIFIER_BREAKER_THRESHOLD": "3",
    "SHAOBAO_NOTIFIER_BREAKER_COOLDOWN_SECONDS": "2",
    "SHAOBAO_NOTIFIER_QUIET_START": "00:00",
    "SHAOBAO_NOTIFIER_QUIET_END": "00:00",
}


@dataclass
class FaultResult:
    fault: str
    accepted: int
    lost: int
    duplicated: int
    recover_seconds: float | None
    notes: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


RESULTS: list[FaultResult] = []


def table(results: list[FaultResult]) -> str:
    lines = [
        "| fault | cases accepted | lost | duplicated | time to recover |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in results:
        rec = "—" if r.recover_seconds is None else f"{r.recover_seconds:.1f} s"
        lines.append(f"| {r.fault} | {r.accepted} | {r.lost} | {r.duplicated} | {rec} |")
    return "\n".join(lines)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not RESULTS:
        return
    terminalreporter.write_sep("=", "fault suite")
    terminalreporter.write_line(table(RESULTS))
    for r in RESULTS:
        if r.notes:
            terminalreporter.write_line(f"- {r.fault}: {r.notes}")
    out = os.environ.get("SHAOBAO_FAULTS_REPORT")
    if out:
        Path(out).write_text(json.dumps([asdict(r) for r in RESULTS], indent=2, default=str))


@pytest.fixture(scope="session")
def one_run_at_a_time() -> Iterator[None]:
    """Two runs on one machine would stop each other's servers: a second run waits for the
    first (then skips, saying why)."""
    if os.geteuid() != 0:
        pytest.skip("the fault suite runs its own PostgreSQL and RabbitMQ: run it as root")
    with open(f"{STATE_DIR.rstrip('/')}.lock", "w") as lock:
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.skip(f"another fault-suite run holds {lock.name}")
                time.sleep(1.0)
        yield


@pytest.fixture(scope="session")
async def own_servers(one_run_at_a_time: None) -> AsyncIterator[OwnServers]:
    own = OwnServers()
    await own.run("up")
    yield own
    if not KEEP:
        await own.run("down")


@pytest.fixture(scope="session")
async def fault_stack(own_servers: OwnServers) -> AsyncIterator[StackUnderTest]:
    s = await create_stack("faults", own_servers.servers)
    await migrate_all_async(s.database_url)
    yield s
    await own_servers.restore(s)  # a failed fault may have left a server stopped
    if not KEEP:
        await drop_stack(s)


@pytest.fixture(scope="session")
async def db(fault_stack: StackUnderTest) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(fault_stack.raw_database_url, min_size=0, max_size=2)
    yield pool
    await pool.close()


async def make_key(stack: StackUnderTest, role: Role, **scope: str) -> dict[str, str]:
    settings = stack.settings()
    engine = make_engine(settings, pool_size=1)
    try:
        async with engine.begin() as conn:
            key = await create_key(
                conn, pepper=settings.key_pepper.get_secret_value(), role=role, **scope
            )
    finally:
        await engine.dispose()
    return {"Authorization": f"Bearer {key}"}


@dataclass
class System:
    stack: StackUnderTest
    servers: OwnServers
    procs: ServiceProcs
    main: Receiver  # every owner but HUNG_OWNER
    hung: Receiver  # HUNG_OWNER's endpoint
    channel: dict[str, str]
    ops: dict[str, str]
    routes: Routes
    urls: dict[str, str]

    def received(self) -> list[str]:
        return self.main.delivery_ids + self.hung.delivery_ids


@pytest.fixture(scope="session")
def fault_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the services' logs go: ``$SHAOBAO_FAULTS_LOG_DIR`` or a temporary directory."""
    given = os.environ.get("SHAOBAO_FAULTS_LOG_DIR")
    logs = Path(given) if given else tmp_path_factory.mktemp("fault-logs")
    logs.mkdir(parents=True, exist_ok=True)
    return logs


@asynccontextmanager
async def running_system(
    stack: StackUnderTest, servers: OwnServers, logs: Path
) -> AsyncIterator[System]:
    """The four services on ``stack``, the receivers and the endpoints, until exit."""
    procs = ServiceProcs(stack=stack, log_dir=logs, env_extra=SERVICE_ENV)
    await procs.start_all()
    admin = await make_key(stack, Role.ADMIN)
    async with (
        Receiver(secrets.token_urlsafe(24)) as main,
        Receiver(secrets.token_urlsafe(24)) as hung,
    ):
        async with httpx.AsyncClient(timeout=10) as http:
            owners = (await http.get(f"{procs.url('router')}/v1/owners", headers=admin)).json()
            for o in owners:
                target = hung if o["id"] == HUNG_OWNER else main
                r = await http.put(
                    f"{procs.url('notifier')}/v1/endpoints/{o['id']}",
                    headers=admin,
                    json={"url": target.url, "secret": target.secret},
                )
                assert r.status_code == 200, r.text
        try:
            yield System(
                stack=stack,
                servers=servers,
                procs=procs,
                main=main,
                hung=hung,
                channel=await make_key(stack, Role.CHANNEL, channel="hotline_12345"),
                ops=await make_key(stack, Role.OPS),
                routes=Routes(stack.settings()),
                urls={s: procs.url(s) for s in SERVICES},
            )
        finally:
            procs.stop_all()


@pytest.fixture(scope="session")
async def system(
    fault_stack: StackUnderTest, own_servers: OwnServers, fault_logs: Path
) -> AsyncIterator[System]:
    async with running_system(fault_stack, own_servers, fault_logs) as running:
        yield running
