"""What the console reads besides the router's tables: RabbitMQ's management API and the
escalation and intake services. Each read is bounded by a short timeout and answers
``None`` when the source is unavailable, so one missing service never breaks the page.

Where to find them (environment, read when the app is built; see docs/operations.md):
``SHAOBAO_MQ_MANAGEMENT_USER`` / ``_PASSWORD`` (default shaobao/shaobao),
``SHAOBAO_CONSOLE_INTAKE_URL`` (http://127.0.0.1:8001),
``SHAOBAO_CONSOLE_ESCALATION_URL`` (http://127.0.0.1:8003),
``SHAOBAO_CONSOLE_NOTIFIER_URL`` (http://127.0.0.1:8004; the workbench's deliveries).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import structlog

from shared.settings import Settings

log = structlog.get_logger(__name__)
TIMEOUT = httpx.Timeout(2.0)


@dataclass(frozen=True)
class Sources:
    mq_url: str
    mq_auth: tuple[str, str]
    vhost: str
    intake_url: str
    escalation_url: str
    notifier_url: str

    @classmethod
    def from_env(cls, settings: Settings) -> Sources:
        env = os.environ
        return cls(
            mq_url=settings.mq_management_url.rstrip("/"),
            mq_auth=(
                env.get("SHAOBAO_MQ_MANAGEMENT_USER", "shaobao"),
                env.get("SHAOBAO_MQ_MANAGEMENT_PASSWORD", "shaobao"),
            ),
            vhost=settings.amqp_vhost,
            intake_url=env.get("SHAOBAO_CONSOLE_INTAKE_URL", "http://127.0.0.1:8001").rstrip("/"),
            escalation_url=env.get(
                "SHAOBAO_CONSOLE_ESCALATION_URL", "http://127.0.0.1:8003"
            ).rstrip("/"),
            notifier_url=env.get("SHAOBAO_CONSOLE_NOTIFIER_URL", "http://127.0.0.1:8004").rstrip(
                "/"
            ),
        )


@dataclass(frozen=True)
class QueueRow:
    name: str
    ready: int
    unacked: int
    consumers: int
    publish_rate: float
    deliver_rate: float

    @property
    def is_dead_letter(self) -> bool:
        return self.name.endswith(".dlq")


async def _get_json(http: httpx.AsyncClient, url: str, **kw: Any) -> Any | None:
    try:
        r = await http.get(url, timeout=TIMEOUT, **kw)
    except httpx.HTTPError as exc:
        log.info("console_source_unavailable", url=url, error=str(exc))
        return None
    if r.status_code != 200:
        log.info("console_source_refused", url=url, status=r.status_code)
        return None
    return r.json()


async def queues(http: httpx.AsyncClient, s: Sources) -> list[QueueRow] | None:
    data = await _get_json(http, f"{s.mq_url}/api/queues/{quote(s.vhost, safe='')}", auth=s.mq_auth)
    if not isinstance(data, list):
        return None
    rows = []
    for q in sorted(data, key=lambda q: q.get("name", "")):
        if not str(q.get("name", "")).startswith("shaobao."):
            continue
        stats = q.get("message_stats") or {}
        rows.append(
            QueueRow(
                name=q["name"],
                ready=int(q.get("messages_ready") or 0),
                unacked=int(q.get("messages_unacknowledged") or 0),
                consumers=int(q.get("consumers") or 0),
                publish_rate=float((stats.get("publish_details") or {}).get("rate") or 0.0),
                deliver_rate=float((stats.get("deliver_get_details") or {}).get("rate") or 0.0),
            )
        )
    return rows


async def open_whistles(
    http: httpx.AsyncClient, s: Sources, bearer: str
) -> list[dict[str, Any]] | None:
    data = await _get_json(
        http,
        f"{s.escalation_url}/v1/whistles",
        params={"state": "open", "limit": 50},
        headers={"Authorization": f"Bearer {bearer}"},
    )
    return data if isinstance(data, list) else None


async def alerts(http: httpx.AsyncClient, s: Sources, bearer: str) -> list[dict[str, Any]] | None:
    """Early warnings: intake's ``GET /v1/alerts``, else escalation's (DESIGN.md puts it there)."""
    for base in (s.intake_url, s.escalation_url):
        data = await _get_json(
            http, f"{base}/v1/alerts", headers={"Authorization": f"Bearer {bearer}"}
        )
        if isinstance(data, dict) and isinstance(data.get("items"), list):
            data = data["items"]
        if isinstance(data, list):
            return data
    return None


async def prevention(
    http: httpx.AsyncClient, s: Sources, bearer: str, params: dict[str, str]
) -> dict[str, Any] | None:
    """Intake's prevention counts (patrols, on-site mediations, risks, campaigns) for the
    KPI report's window and area, read with the caller's own key (intake scopes it)."""
    data = await _get_json(
        http, f"{s.intake_url}/v1/reports/prevention", params=params,
        headers={"Authorization": f"Bearer {bearer}"},
    )  # fmt: skip
    return data if isinstance(data, dict) else None
