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
    CaseDispatched: on_case_dispatched,
    CaseDisputed: on_case_disputed,
    DispatchAcknowledged: on_dispatch_acknowledged,
    DispatchProgressed: on_dispatch_progressed,
    DispatchResolved: on_dispatch_resolved,
    DispatchReturned: on_dispatch_returned,
    ExtensionRequested: on_extension_requested,
    DispatchCancelled: on_dispatch_cancelled,
    CaseHeldForTriage: on_case_held_for_triage,
    CaseClassified: on_case_classified,
}
