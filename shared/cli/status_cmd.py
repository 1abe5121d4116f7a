"""``shaobao status``: one glance at services, queues and outbox lag."""

from __future__ import annotations

import asyncio
from datetime import datetime

import httpx
import typer

from shared.domain.calendar import SHANGHAI, WorkingCalendar
from shared.settings import Settings

SERVICES = {"intake": 8001, "router": 8002, "escalation": 8003, "notifier": 8004}


async def _services(http: httpx.AsyncClient, host: str, warnings: list[str]) -> list[str]:
    """A line per service; the warnings its readiness answer carries are added to ``warnings``."""
    lines = []
    for name, port in SERVICES.items():
        try:
            r = await http.get(f"http://{host}:{port}/readyz")
            state = "就绪 ready" if r.status_code == 200 else f"未就绪 {r.json().get('problems')}"
            warnings.extend(w for w in r.json().get("warnings", []) if w not in warnings)
        except httpx.HTTPError:
            state = "未运行 down"
        lag = await _lag(http, host, port)
        lines.append(f"  {name:<11} :{port}  {state}{lag}")
    return lines


_SHOWN = {
    "shaobao_outbox_lag_seconds": "outbox lag {:.1f}s",
    "shaobao_deadlines_pending": "时限 pending {:.0f}",
    "shaobao_deadlines_overdue": "超期 overdue {:.0f}",
}


async def _lag(http: httpx.AsyncClient, host: str, port: int) -> str:
    """Outbox lag of every service; pending and overdue deadlines from escalation."""
    try:
        text = (await http.get(f"http://{host}:{port}/metrics")).text
    except httpx.HTTPError:
        return ""
    shown = []
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in _SHOWN:
            shown.append(_SHOWN[name].format(float(value)))
    return "".join(f"  {s}" for s in shown)


async def _queues(http: httpx.AsyncClient, settings: Settings) -> list[str]:
    try:
        r = await http.get(f"{settings.mq_management_url}/api/queues", auth=("shaobao", "shaobao"))
        r.raise_for_status()
    except httpx.HTTPError as exc:
        return [f"  RabbitMQ 管理接口不可达 (management API unreachable): {exc}"]
    vhost = settings.amqp_vhost
    lines = []
    for q in sorted(r.json(), key=lambda q: q["name"]):
        if not q["name"].startswith("shaobao.") or q["vhost"] != vhost:
            continue
        rate = q.get("message_stats", {}).get("deliver_get_details", {}).get("rate", 0.0)
        lines.append(
            f"  {q['name']:<26} ready {q.get('messages_ready', 0):>6}  "
            f"unacked {q.get('messages_unacknowledged', 0):>5}  consumers {q.get('consumers', 0)}  "
            f"deliver {rate:.1f}/s"
        )
    return lines


def status(host: str = typer.Option("127.0.0.1", help="where the services run")) -> None:
    """Services up or not, outbox lag, and every Shaobao queue with its depth."""

    async def go() -> list[str]:
        settings = Settings()
        # The calendar as this machine's files say today, and whatever the services warn of
        # (they read the same files by their own clock, which may be a moved test clock).
        warnings = WorkingCalendar.load(settings.calendar_dir).coverage_warnings(
            datetime.now(SHANGHAI).date()
        )
        async with httpx.AsyncClient(timeout=3) as http:
            lines = ["服务 (services):", *await _services(http, host, warnings),
                     "队列 (queues):", *await _queues(http, settings)]  # fmt: skip
        return lines + (["提醒 (warnings):", *(f"  ! {w}" for w in warnings)] if warnings else [])

    typer.echo("\n".join(asyncio.run(go())))
