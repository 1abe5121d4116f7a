"""Payload class → handler for the router's queue (the routing key comes from the contract)."""

from services.router.deps import RouterDeps
from services.router.handlers.case_received import on_case_received
from services.router.handlers.dispatch_delivered import on_dispatch_delivered
from services.router.handlers.duplicate_linked import on_duplicate_linked
from services.router.handlers.escalation_timeline import (
    on_case_escalated,
    on_case_reminder,
    on_whistle_blown,
    on_whistle_unconvened,
)
from services.router.handlers.extension_decided import on_extension_decided
from services.router.handlers.feedback_received import on_feedback_received
from services.router.handlers.whistle_lead_designated import on_whistle_lead_designated
from services.router.unit_of_work import unit_handler
from shared.contracts.events import (
    CaseDuplicateLinked,
    CaseEscalated,
    CaseReceived,
    CaseReminder,
    DispatchDelivered,
    ExtensionDecided,
    FeedbackReceived,
    WhistleBlown,
    WhistleLeadDesignated,
    WhistleUnconvened,
)
from shared.messaging.consumer import Handlers

HANDLERS: Handlers[RouterDeps] = {
    CaseReceived: unit_handler(on_case_received),
    DispatchDelivered: on_dispatch_delivered,
    CaseDuplicateLinked: on_duplicate_linked,
    FeedbackReceived: unit_handler(on_feedback_received),
    WhistleLeadDesignated: unit_handler(on_whistle_lead_designated),
    CaseReminder: on_case_reminder,
    CaseEscalated: on_case_escalated,
    WhistleBlown: on_whistle_blown,
    WhistleUnconvened: unit_handler(on_whistle_unconvened),
    ExtensionDecided: unit_handler(on_extension_decided),
}
