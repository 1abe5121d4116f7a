"""Intake's composition root: ``uvicorn services.intake.app:create_app --factory``."""

from __future__ import annotations

from fastapi import FastAPI

from services.intake.api import (
    admin,
    alerts,
    attachments,
    campaigns,
    cases,
    contact,
    feedback,
    feedback_page,
    key_persons,
    open311,
    patrols,
    persons,
    revisits,
    risks,
    visit,
    watch,
)
from services.intake.deps import IntakeDeps
from services.intake.handlers.registry import HANDLERS
from services.intake.submissions import SubmissionBatcher
from services.intake.tables import inbox, outbox
from services.intake.triage import TriageDesk, load_places
from shared.attachments.web import UPLOAD_PATH
from shared.domain.intake_rules import IntakePolicy
from shared.domain.owners import OwnerDirectory
from shared.domain.rules import RuleSet
from shared.runtime import ServiceRuntime
from shared.security.pii import PiiVault
from shared.settings import Settings
from shared.web.app import build_app


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = (settings or Settings()).for_service("intake")
    rules = RuleSet.load(settings.rules_file)
    triage = TriageDesk(rules.triage, rules.categories, models=settings.triage_models,
                        places=load_places(settings))  # fmt: skip
    triage.load_newest()
    deps = IntakeDeps(
        vault=PiiVault(settings.pii_key.get_secret_value()),
        pseudonym_key=settings.pseudonym_key.get_secret_value(),
        # alerts.yaml sits beside rules.yaml (a Settings field would be the tidier home)
        policy=IntakePolicy.load(settings.rules_file.parent / "alerts.yaml"),
        owners=OwnerDirectory.load(settings.owners_file),
        category_names=rules.categories,
        triage=triage,
    )
    runtime = ServiceRuntime(settings, inbox=inbox, outbox=outbox, handlers=HANDLERS, deps=deps)
    app = build_app(
        title="哨报 Shaobao · intake 受理",
        description=(
            "渠道提交诉求、查询状态；重复件关联、预警、重点人员。"
            "Channels submit cases and read their status; duplicates, early warnings, key persons."
        ),
        runtime=runtime,
        routers=[
            cases.router,
            cases.refs_router,
            contact.router,
            admin.router,
            feedback.router,
            visit.router,
            feedback_page.router,
            watch.router,
            alerts.router,
            key_persons.router,
            persons.router,
            attachments.router,
            patrols.router,
            risks.router,
            campaigns.router,
            revisits.router,
            open311.router,
        ],
        large_body_paths=frozenset({"/v1/cases/batch"}),
        body_limits={UPLOAD_PATH: settings.attachment_max_bytes},
        background=[lambda: triage.watch(settings.triage_reload_seconds)],
    )
    app.state.submissions = SubmissionBatcher(
        runtime, max_batch=settings.intake_batch, workers=settings.consumer_workers
    )
    return app
