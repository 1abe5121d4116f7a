"""The four services as real processes (uvicorn), on free ports, against a test stack."""

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
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServiceProcs:
    stack: StackUnderTest
    log_dir: Path
    env_extra: dict[str, str] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def log_path(self, service: str) -> Path:
        return self.log_dir / f"{service}.log"

    def start(self, service: str) -> None:
        port = self.ports.setdefault(service, free_port())
        log = open(self.log_path(service), "ab")
        self.procs[service] = subprocess.Popen(
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
                "--no-access-log",
            ],
            cwd=ROOT,
            env=self.stack.env(**self.env_extra),
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def kill(self, service: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(service)
        proc.send_signal(sig)
        proc.wait(timeout=20)

    async def wait_ready(self, service: str, timeout: float = 60) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        async with httpx.AsyncClient(timeout=2) as http:
            while asyncio.get_running_loop().time() < deadline:
                proc = self.procs[service]
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"{service} exited:\n{self.log_path(service).read_text()[-3000:]}"
                    )
                try:
                    if (await http.get(f"{self.url(service)}/readyz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        raise RuntimeError(f"{service} not ready:\n{self.log_path(service).read_text()[-3000:]}")

    async def start_all(self) -> None:
        for s in SERVICES:
            self.start(s)
        for s in SERVICES:
            await self.wait_ready(s)

    def stop_all(self) -> None:
        for s in list(self.procs):
            proc = self.procs.pop(s)
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def logs_text(procs: ServiceProcs) -> str:
    return "\n".join(
        procs.log_path(s).read_text(errors="replace")
        for s in SERVICES
        if procs.log_path(s).exists()
    )
