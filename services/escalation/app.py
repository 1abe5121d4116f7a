"""Escalation's composition root: ``uvicorn services.escalation.app:create_app --factory``."""

from __future__ import annotations

from fastapi import FastAPI

from services.escalation.api import backlog, deadlines, escalations, extensions, whistles
from services.escalation.deps import EscalationDeps
from services.escalation.handlers.registry import HANDLERS
from services.escalation.scanner import DeadlineScanner
from services.escalation.tables import inbox, outbox
from shared.calendar_watch import coverage_warnings
from shared.runtime import ServiceRuntime
from shared.settings import Settings
from shared.web.app import build_app


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = (settings or Settings()).for_service("escalation")
    deps = EscalationDeps.load(settings)
    runtime = ServiceRuntime(settings, inbox=inbox, outbox=outbox, handlers=HANDLERS, deps=deps)
    scanner = DeadlineScanner(
        runtime.engine,
        runtime.clock,
        deps,
        on_committed=runtime.poke_relay,
        batch=deps.policy.scan_batch,
        poll_seconds=deps.policy.scan_poll_seconds,
        idle_poll_seconds=deps.policy.scan_idle_poll_seconds,
    )
    runtime.clock_moved(scanner.wake)
    return build_app(
        title="哨报 Shaobao · escalation 督办",
        description="时限、催办、督办与吹哨报到。Deadlines, reminders, escalation and whistles.",
        runtime=runtime,
        warnings=lambda: coverage_warnings(deps.config.calendar, runtime.clock),
        routers=[
            deadlines.router,
            escalations.router,
            backlog.router,
            whistles.router,
            extensions.router,
        ],
        background=[scanner.run, deps.watch(settings).run],
    )
