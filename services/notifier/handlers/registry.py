"""Routing key → handler for the notifier's queue (the payload model comes from the contract)."""

from services.notifier.handlers.alert_raised import on_alert_raised
from services.notifier.handlers.case_closed import on_case_closed
from services.notifier.handlers.case_dispatched import on_case_dispatched
from services.notifier.handlers.case_escalated import on_case_escalated
from services.notifier.handlers.case_received import on_case_received
from services.notifier.handlers.case_reminder import on_case_reminder
from services.notifier.handlers.case_reopened import on_case_reopened
from services.notifier.handlers.case_resolved import on_case_resolved
from services.notifier.handlers.dispatch_acknowledged import on_dispatch_acknowledged
from services.notifier.handlers.dispatch_progressed import on_dispatch_progressed
from services.notifier.handlers.dispatch_resolved import on_dispatch_resolved
from services.notifier.handlers.extension_decided import on_extension_decided
from services.notifier.handlers.extension_requested import on_extension_requested
from services.notifier.handlers.whistle_blown import on_whistle_blown
from shared.messaging.consumer import Handler

HANDLERS: dict[str, Handler] = {
    "case.received": on_case_received,
    "alert.raised": on_alert_raised,
    "case.dispatched": on_case_dispatched,
    "dispatch.acknowledged": on_dispatch_acknowledged,
    "case.resolved": on_case_resolved,
    "case.closed": on_case_closed,
    "case.reopened": on_case_reopened,
    "dispatch.progressed": on_dispatch_progressed,
    "dispatch.resolved": on_dispatch_resolved,
    "case.reminder": on_case_reminder,
    "case.escalated": on_case_escalated,
    "whistle.blown": on_whistle_blown,
    "dispatch.extension_decided": on_extension_decided,
    "dispatch.extension_requested": on_extension_requested,
}
