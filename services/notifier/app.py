"""Notifier's composition root: ``uvicorn services.notifier.app:create_app --factory``."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI

from services.notifier.api import endpoints
from services.notifier.handlers.case_dispatched import HANDLERS
from services.notifier.tables import inbox, outbox
from services.notifier.worker import DeliveryWorker
from shared.runtime import ServiceRuntime
from shared.security.pii import PiiVault
from shared.settings import Settings
from shared.web.app import build_app


@dataclass(frozen=True)
class NotifierDeps:
    vault: PiiVault


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = (settings or Settings()).for_service("notifier")
    vault = PiiVault(settings.pii_key.get_secret_value())
    runtime = ServiceRuntime(
        settings, inbox=inbox, outbox=outbox, handlers=HANDLERS, deps=NotifierDeps(vault)
    )
    worker = DeliveryWorker(runtime, vault)
    return build_app(
        title="哨报 Shaobao · notifier 通知",
        description="派单送达、签名回调与送达记录。Signed webhook deliveries and their log.",
        runtime=runtime,
        routers=[endpoints.router],
        background=[worker.run],
    )
