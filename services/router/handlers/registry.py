"""Routing key → handler for the router's queue (the payload model comes from the contract)."""

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
from shared.messaging.consumer import Handler

HANDLERS: dict[str, Handler] = {
    "case.received": unit_handler(on_case_received),
    "dispatch.delivered": on_dispatch_delivered,
    "case.duplicate_linked": on_duplicate_linked,
    "feedback.received": unit_handler(on_feedback_received),
    "whistle.lead_designated": unit_handler(on_whistle_lead_designated),
    "case.reminder": on_case_reminder,
    "case.escalated": on_case_escalated,
    "whistle.blown": on_whistle_blown,
    "whistle.unconvened": on_whistle_unconvened,
    "dispatch.extension_decided": unit_handler(on_extension_decided),
}
