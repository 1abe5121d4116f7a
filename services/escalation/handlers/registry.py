"""Routing key → handler for the escalation queue (the payload model comes from the contract)."""

from services.escalation.handlers.case_disputed import on_case_disputed
from services.escalation.handlers.deadlines import on_case_dispatched, on_dispatch_acknowledged
from services.escalation.handlers.dispatch_cancelled import on_dispatch_cancelled
from services.escalation.handlers.dispatch_progressed import on_dispatch_progressed
from services.escalation.handlers.dispatch_resolved import on_dispatch_resolved
from services.escalation.handlers.dispatch_returned import on_dispatch_returned
from services.escalation.handlers.extension_requested import on_extension_requested
from services.escalation.handlers.triage_queue import (
    on_case_classified,
    on_case_held_for_triage,
)
from shared.messaging.consumer import Handler

HANDLERS: dict[str, Handler] = {
    "case.dispatched": on_case_dispatched,
    "case.disputed": on_case_disputed,
    "dispatch.acknowledged": on_dispatch_acknowledged,
    "dispatch.progressed": on_dispatch_progressed,
    "dispatch.resolved": on_dispatch_resolved,
    "dispatch.returned": on_dispatch_returned,
    "dispatch.extension_requested": on_extension_requested,
    "dispatch.cancelled": on_dispatch_cancelled,
    "case.held_for_triage": on_case_held_for_triage,
    "case.classified": on_case_classified,
}
