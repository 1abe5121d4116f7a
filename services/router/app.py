"""Router's composition root: ``uvicorn services.router.app:create_app --factory``."""

from __future__ import annotations

from fastapi import FastAPI

from services.router.api import (
    attachments,
    backlog,
    case_list,
    cases,
    dead_letters,
    dispatches,
    owners,
    reports,
    triage,
    whistle,
)
from services.router.deps import RouterDeps
from services.router.feedback_timeout import FeedbackTimeout
from services.router.handlers.registry import HANDLERS
from services.router.pages.console import routes as console
from services.router.pages.workbench import routes as workbench
from services.router.pages.workbench.acting import ACT_PATH
from services.router.tables import inbox, outbox
from shared.attachments.web import UPLOAD_PATH
from shared.calendar_watch import coverage_warnings
from shared.runtime import ServiceRuntime
from shared.settings import Settings
from shared.web.app import build_app


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = (settings or Settings()).for_service("router")
    deps = RouterDeps.load(settings)
    runtime = ServiceRuntime(settings, inbox=inbox, outbox=outbox, handlers=HANDLERS, deps=deps)
    return build_app(
        title="哨报 Shaobao · router 分派",
        description="派单、签收与诉求全程记录。Routing, the department API and case timelines.",
        runtime=runtime,
        warnings=lambda: coverage_warnings(deps.config.calendar, runtime.clock),
        routers=[
            dispatches.router,
            case_list.router,
            cases.router,
            whistle.router,
            owners.router,
            reports.router,
            backlog.router,
            console.router,
            workbench.router,
            attachments.router,
            triage.router,
            dead_letters.router,
        ],
        body_limits={
            UPLOAD_PATH: settings.attachment_max_bytes,
            ACT_PATH: settings.attachment_max_bytes + 64 * 1024,  # a photo and the form
        },
        background=[FeedbackTimeout(runtime).run, deps.watch(settings).run],
    )
