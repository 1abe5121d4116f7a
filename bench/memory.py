"""Benchmark (not a test): resident memory of each service as open cases pile up.

Finds the four uvicorn processes ``deploy/services.sh`` started (``.run/<service>.pid``
holds the ``uv run`` wrapper; the service is its ``uvicorn`` child) or takes
``--pids intake=PID,...``, reads ``VmRSS`` and ``VmHWM`` from ``/proc/PID/status``, then
posts cases in steps until this run has posted each step's total (no department acts on
them, so they stay open), waits until every one is dispatched and ``--settle`` seconds
more, and prints each service's RSS per step. Run against a running system:

    uv run python -m bench.memory --steps 5000,10000,20000

Flat columns mean no service keeps per-case state in memory as open cases grow.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import time
from pathlib import Path

import asyncpg
import httpx

from bench.common import DecisionProbe, channel_keys, machine
from shared.settings import ROOT, Settings

SERVICES = ("intake", "router", "escalation", "notifier")
PLACES = [
    {"district": "d01", "street": "s01", "community": "c01", "grid": "g01", "compound": "k01"},
    {"district": "d01", "street": "s01", "community": "c01", "grid": "g02", "compound": "k01"},
    {"district": "d01", "street": "s01", "community": "c02", "grid": "g01", "compound": "k01"},
    {"district": "d01", "street": "s02", "community": "c01", "grid": "g01", "compound": "k01"},
]
CATEGORIES = [  # no cluster-alert rule counts these anonymous cases (config/alerts.yaml)
    "environment.cooking_fume",
    "animal.stray_dog",
    "neighbour.dispute",
    "sanitation.garbage",
    "property.repair",
]


def status_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    raise ValueError(f"{field} not in /proc/{pid}/status")


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(p) for p in task.read_text().split()]
    return found


def service_pid(service: str, run_dir: Path) -> int:
    """The uvicorn process of ``service``: the pid file's process or a descendant of it."""
    wrapper = int((run_dir / f"{service}.pid").read_text().strip())
    todo, marker = [wrapper], f"services.{service}.app"
    while todo:
        pid = todo.pop(0)
        line = cmdline(pid)
        if "uvicorn" in line and marker in line and "python" in line:
            return pid
        todo += children(pid)
    raise SystemExit(f"no uvicorn process for {service} under pid {wrapper}")


def find_pids(given: str | None, run_dir: Path) -> dict[str, int]:
    if given:
        pairs = (p.split("=", 1) for p in given.split(",") if p.strip())
        return {name.strip(): int(pid) for name, pid in pairs}
    return {s: service_pid(s, run_dir) for s in SERVICES}


async def open_cases(database_url: str) -> int:
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM router.cases WHERE state NOT IN ('closed', 'merged')"
            )
        )
    finally:
        await conn.close()


async def post_cases(
    http: httpx.AsyncClient, first: int, count: int, concurrency: int, tag: str
) -> list[str]:
    """Closed loop, ``concurrency`` clients; a 429 waits its Retry-After and tries again."""
    ids: list[str] = []
    todo = iter(range(first, first + count))

    async def client() -> None:
        for i in todo:
            body = {
                "external_id": f"mem{tag}-{i}",
                "category": CATEGORIES[i % len(CATEGORIES)],
                "title": f"内存压测 {i}",
                "description": f"memory benchmark {secrets.token_hex(16)}",
                "location": PLACES[i % len(PLACES)],
            }
            for _ in range(20):
                resp = await http.post("/v1/cases", json=body)
                if resp.status_code != 429:
                    break
                await asyncio.sleep(float(resp.headers.get("Retry-After", "1")))
            if resp.status_code in (200, 201):
                ids.append(resp.json()["case_id"])

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return ids


def sample(pids: dict[str, int]) -> dict[str, tuple[int, int]]:
    return {s: (status_kib(p, "VmRSS"), status_kib(p, "VmHWM")) for s, p in pids.items()}


def line(label: str, posted: int, opened: int, rss: dict[str, tuple[int, int]]) -> str:
    cells = "  ".join(f"{rss[s][0] / 1024:8.1f} ({rss[s][1] / 1024:6.1f})" for s in rss)
    total = sum(v[0] for v in rss.values()) / 1024
    return f"{label:>8} {posted:>8} {opened:>8}  {cells}  {total:8.1f}"


async def run(args: argparse.Namespace) -> None:
    settings = Settings()
    pids = find_pids(args.pids, args.run_dir)
    steps = [int(x) for x in args.steps.split(",") if x.strip()]
    print(f"machine: {machine()}")
    print(f"pids: {pids}; settle {args.settle:g} s after the last dispatch of each step")
    header = "  ".join(f"{s:>17}" for s in pids)
    print(f"{'step':>8} {'posted':>8} {'open':>8}  {header}  {'total':>8}   MiB RSS (peak)")
    print(line("0", 0, await open_cases(settings.database_url), sample(pids)))
    keys = await channel_keys(settings, ["hotline_12345"], "bench-memory")
    probe = DecisionProbe()
    await probe.start(settings)
    tag, posted = f"{int(time.time()):x}", 0
    headers = {"Authorization": f"Bearer {keys['hotline_12345']}"}
    limits = httpx.Limits(max_connections=args.concurrency)
    async with httpx.AsyncClient(
        base_url=args.intake, headers=headers, timeout=60, limits=limits
    ) as http:
        ids: list[str] = []
        for step in steps:
            ids += await post_cases(http, posted, step - posted, args.concurrency, tag)
            posted = step
            deadline = time.monotonic() + args.timeout
            while probe.heard(ids) < len(ids) and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
            await asyncio.sleep(args.settle)
            opened = await open_cases(settings.database_url)
            missing = len(ids) - probe.heard(ids)
            note = f"   ({missing} not dispatched after {args.timeout:g} s)" if missing else ""
            print(line(str(step), posted, opened, sample(pids)) + note)
    await probe.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="5000,10000,20000", help="cumulative cases posted")
    parser.add_argument("--pids", default=None, help="intake=PID,router=PID,... (else found)")
    parser.add_argument("--run-dir", type=Path, default=Path(os.environ.get(
        "SHAOBAO_RUN_DIR", ROOT / ".run")))  # fmt: skip
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--settle", type=float, default=5.0)
    parser.add_argument("--timeout", type=float, default=600.0, help="wait for dispatches")
    parser.add_argument("--intake", default="http://127.0.0.1:8001")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
