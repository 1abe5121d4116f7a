"""The four services as real processes (uvicorn), on free ports, against a test stack.

A process is known by its name: the service for the first replica (``"router"``), and
``"router-2"``, ``"router-3"``... for more replicas of the same service (``start("router",
replica=2)``). Every replica runs the same code with the same settings, so they share the
service's queue, schema and outbox exactly as replicas in production do.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.stack import StackUnderTest

SERVICES = ("intake", "router", "escalation", "notifier")
HTTP_PROTOCOL = "shared.web.server:GuardedHttpToolsProtocol"  # as deploy/services.sh starts them
ROOT = Path(__file__).resolve().parents[2]
# The test receivers (tests/support/receiver.py) listen on loopback at free ports: the
# services under test name loopback explicitly, as deploy/up.sh names the demo receiver.
# A process's own env_extra wins (a test of the default refusal sets the default back).
TEST_ENV = {"SHAOBAO_NOTIFIER_WEBHOOK_ALLOWED_HOSTS": '["*", "127.0.0.1", "localhost"]'}


def replica_name(service: str, replica: int = 1) -> str:
    """``router`` for the first replica, ``router-2`` for the second, ..."""
    if service not in SERVICES or replica < 1:
        raise ValueError(f"no such service replica: {service} #{replica}")
    return service if replica == 1 else f"{service}-{replica}"


def service_of(name: str) -> str:
    """The service a process name belongs to (``router-2`` → ``router``)."""
    return name.rsplit("-", 1)[0] if name not in SERVICES else name


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServiceProcs:
    stack: StackUnderTest
    log_dir: Path
    env_extra: dict[str, str] = field(default_factory=dict)
    protocol: str = HTTP_PROTOCOL
    ports: dict[str, int] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def url(self, service: str, replica: int = 1) -> str:
        return f"http://127.0.0.1:{self.ports[replica_name(service, replica)]}"

    def log_path(self, name: str) -> Path:
        """The log of a process, by name (``router`` or ``router-2``)."""
        return self.log_dir / f"{name}.log"

    def names(self, service: str) -> list[str]:
        """Every started replica of ``service``, first replica first."""
        return sorted((n for n in self.ports if service_of(n) == service), key=_replica_no)

    def start(self, service: str, replica: int = 1) -> None:
        name = replica_name(service, replica)
        port = self.ports.setdefault(name, free_port())
        log = open(self.log_path(name), "ab")
        self.procs[name] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                f"services.{service}.app:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--http",
                self.protocol,
                "--no-access-log",
            ],
            cwd=ROOT,
            env=self.stack.env(**(TEST_ENV | self._links() | self.env_extra)),
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def _links(self) -> dict[str, str]:
        """The notifier's links to the router (webhooks link attachments there)."""
        if "router" not in self.ports:
            return {}
        return {"SHAOBAO_NOTIFIER_ROUTER_URL": self.url("router")}

    def kill(self, service: str, sig: int = signal.SIGKILL, replica: int = 1) -> None:
        proc = self.procs.pop(replica_name(service, replica))
        proc.send_signal(sig)
        proc.wait(timeout=20)

    async def wait_ready(self, service: str, timeout: float = 60, replica: int = 1) -> None:
        name = replica_name(service, replica)
        deadline = asyncio.get_running_loop().time() + timeout
        async with httpx.AsyncClient(timeout=2) as http:
            while asyncio.get_running_loop().time() < deadline:
                proc = self.procs[name]
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited:\n{self.log_path(name).read_text()[-3000:]}")
                try:
                    url = self.url(service, replica)
                    if (await http.get(f"{url}/readyz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        raise RuntimeError(f"{name} not ready:\n{self.log_path(name).read_text()[-3000:]}")

    async def start_all(self, replicas: int = 1, timeout: float = 60) -> None:
        """Start ``replicas`` processes of every service and wait until each is ready."""
        for replica in range(1, replicas + 1):
            for s in SERVICES:
                self.start(s, replica)
        for replica in range(1, replicas + 1):
            for s in SERVICES:
                await self.wait_ready(s, timeout, replica=replica)

    def stop_all(self) -> None:
        for s in list(self.procs):
            proc = self.procs.pop(s)
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _replica_no(name: str) -> int:
    return 1 if name in SERVICES else int(name.rsplit("-", 1)[1])


def logs_text(procs: ServiceProcs) -> str:
    """Every process's log (each replica of each service), one after another."""
    names = [n for s in SERVICES for n in (procs.names(s) or [s])]
    return "\n".join(
        procs.log_path(n).read_text(errors="replace") for n in names if procs.log_path(n).exists()
    )
