"""What the notifier's handlers, routes and delivery worker need besides a connection.

:class:`NotifierSettings` are its own settings (``SHAOBAO_NOTIFIER_*``: breaker, SMTP, SMS,
intake); :class:`NotifierDeps` is the one object handlers and routes hold, built by app.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.notifier.notice_rules import NoticeRules
from shared.domain.owners import OwnerDirectory
from shared.security.pii import PiiVault
from shared.settings import Settings


class NotifierSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHAOBAO_NOTIFIER_", extra="ignore", frozen=True)

    webhook_allowed_hosts: list[str] = Field(
        default_factory=lambda: ["*"],
        description=(
            "hosts webhooks may go to; '*' = any host with a public address. Loopback,"
            " private, link-local, multicast addresses only when named exactly, optionally"
            " with a port ('127.0.0.1:8010'); see shared/security/urls.py"
        ),
    )
    breaker_threshold: int = Field(default=5, ge=1, le=1000)
    breaker_cooldown_seconds: float = Field(default=30.0, gt=0, le=3600)

    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_from: str = "noreply@shaobao.local"
    sms_gateway_url: str | None = None

    intake_url: str = "http://127.0.0.1:8001"
    # Where a department fetches a case's attachments (the dispatch webhook's links).
    router_url: str = "http://127.0.0.1:8002"
    intake_key: SecretStr | None = None  # a service key: reads a petitioner's contact to send

    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 0)
    # 重点事项 published on the notice board: complex/difficult tiers, or urgent/emergency
    key_tiers: frozenset[str] = frozenset({"complex", "difficult"})
    key_urgencies: frozenset[str] = frozenset({"urgent", "emergency"})


@dataclass(frozen=True)
class NotifierDeps:
    vault: PiiVault
    config: NotifierSettings
    settings: Settings
    owners: OwnerDirectory  # names people read (read at start)
    notices: NoticeRules
    category_names: dict[str, str]  # code → 中文名 (rules.yaml, read at start)
