"""Payload class → handler for the notifier's queue (the routing key comes from the contract)."""

from services.notifier.deps import NotifierDeps
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
from services.notifier.unit_of_work import unit_handler
from shared.contracts.events import (
    AlertRaised,
    CaseClosed,
    CaseDispatched,
    CaseEscalated,
    CaseReceived,
    CaseReminder,
    CaseReopened,
    CaseResolved,
    DispatchAcknowledged,
    DispatchProgressed,
    DispatchResolved,
    ExtensionDecided,
    ExtensionRequested,
    WhistleBlown,
)
from shared.messaging.consumer import Handlers

HANDLERS: Handlers[NotifierDeps] = {
    CaseReceived: unit_handler(on_case_received),
    AlertRaised: unit_handler(on_alert_raised),
    CaseDispatched: unit_handler(on_case_dispatched),
    DispatchAcknowledged: unit_handler(on_dispatch_acknowledged),
    CaseResolved: unit_handler(on_case_resolved),
    CaseClosed: unit_handler(on_case_closed),
    CaseReopened: unit_handler(on_case_reopened),
    DispatchProgressed: unit_handler(on_dispatch_progressed),
    DispatchResolved: unit_handler(on_dispatch_resolved),
    CaseReminder: unit_handler(on_case_reminder),
    CaseEscalated: unit_handler(on_case_escalated),
    WhistleBlown: unit_handler(on_whistle_blown),
    ExtensionDecided: unit_handler(on_extension_decided),
    ExtensionRequested: unit_handler(on_extension_requested),
}
