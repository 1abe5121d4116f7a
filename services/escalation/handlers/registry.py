"""Payload class → handler for the escalation queue (the routing key comes from the contract)."""

from services.escalation.deps import EscalationDeps
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
from services.escalation.unit_of_work import unit_handler
from shared.contracts.events import (
    CaseClassified,
    CaseDispatched,
    CaseDisputed,
    CaseHeldForTriage,
    DispatchAcknowledged,
    DispatchCancelled,
    DispatchProgressed,
    DispatchResolved,
    DispatchReturned,
    ExtensionRequested,
)
from shared.messaging.consumer import Handlers

HANDLERS: Handlers[EscalationDeps] = {
    CaseDispatched: unit_handler(on_case_dispatched),
    CaseDisputed: unit_handler(on_case_disputed),
    DispatchAcknowledged: unit_handler(on_dispatch_acknowledged),
    DispatchProgressed: unit_handler(on_dispatch_progressed),
    DispatchResolved: unit_handler(on_dispatch_resolved),
    DispatchReturned: unit_handler(on_dispatch_returned),
    ExtensionRequested: unit_handler(on_extension_requested),
    DispatchCancelled: unit_handler(on_dispatch_cancelled),
    CaseHeldForTriage: unit_handler(on_case_held_for_triage),
    CaseClassified: unit_handler(on_case_classified),
}
