"""Payload class → handler for intake's queue (the routing key comes from the contract)."""

from services.intake.deps import IntakeDeps
from services.intake.handlers.classified import on_case_classified
from services.intake.handlers.dispatch_ended import on_dispatch_cancelled, on_dispatch_returned
from services.intake.handlers.feedback_status import (
    on_case_closed,
    on_case_reopened,
    on_case_resolved,
)
from services.intake.handlers.status import on_case_dispatched, on_dispatch_acknowledged
from services.intake.unit_of_work import unit_handler
from shared.contracts.events import (
    CaseClassified,
    CaseClosed,
    CaseDispatched,
    CaseReopened,
    CaseResolved,
    DispatchAcknowledged,
    DispatchCancelled,
    DispatchReturned,
)
from shared.messaging.consumer import Handlers

HANDLERS: Handlers[IntakeDeps] = {
    CaseResolved: unit_handler(on_case_resolved),
    CaseClosed: unit_handler(on_case_closed),
    CaseReopened: unit_handler(on_case_reopened),
    DispatchReturned: unit_handler(on_dispatch_returned),
    DispatchCancelled: unit_handler(on_dispatch_cancelled),
    CaseClassified: unit_handler(on_case_classified),
    CaseDispatched: unit_handler(on_case_dispatched),
    DispatchAcknowledged: unit_handler(on_dispatch_acknowledged),
}
