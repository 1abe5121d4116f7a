"""Notifier's composition root: ``uvicorn services.notifier.app:create_app --factory``."""

from __future__ import annotations

from fastapi import FastAPI

from services.notifier.api import channel_callbacks, endpoints, notices
from services.notifier.deps import NotifierDeps, NotifierSettings
from services.notifier.handlers.registry import HANDLERS
from services.notifier.notice_rules import NoticeRules
from services.notifier.tables import DELIVERIES_POLLER, inbox, outbox
from services.notifier.worker import DeliveryWorker
from shared.domain.owners import OwnerDirectory
from shared.domain.rules import RuleSet
from shared.runtime import ServiceRuntime
from shared.security.pii import PiiVault
from shared.settings import Settings
from shared.web.app import build_app


def create_app(settings: Settings | None = None, config: NotifierSettings | None = None) -> FastAPI:
    settings = (settings or Settings()).for_service("notifier")
    config = config or NotifierSettings()
    if settings.environment == "production" and (config.sms_gateway_url or "").startswith("file:"):
        raise ValueError(
            "生产环境不能把短信写入本地文件 (SHAOBAO_NOTIFIER_SMS_GATEWAY_URL=file:// is for a"
            " developer's machine only)"
        )
    vault = PiiVault(settings.pii_key.get_secret_value())
    notice_rules = NoticeRules(settings.rules_file)
    runtime = ServiceRuntime(
        settings,
        inbox=inbox,
        outbox=outbox,
        handlers=HANDLERS,
        deps=NotifierDeps(
            vault,
            config,
            settings,
            OwnerDirectory.load(settings.owners_file),
            notice_rules,
            RuleSet.load(settings.rules_file).categories,
        ),
    )
    worker = DeliveryWorker(runtime, vault, config)
    runtime.on_wake(DELIVERIES_POLLER, worker.wake)  # a commit wrote pending deliveries
    runtime.clock_moved(worker.wake)
    return build_app(
        title="哨报 Shaobao · notifier 通知",
        description=(
            "派单送达、签名回调、诉求人告知与公示。"
            "Signed deliveries with a circuit breaker, petitioner messages, notice board."
        ),
        runtime=runtime,
        routers=[endpoints.router, channel_callbacks.router, notices.router],
        background=[worker.run, notice_rules.watch().run],
    )
