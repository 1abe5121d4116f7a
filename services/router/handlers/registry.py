"""Routing key → handler for the router's queue (the payload model comes from the contract)."""

from services.router.handlers.case_received import on_case_received
from services.router.handlers.dispatch_delivered import on_dispatch_delivered

HANDLERS = {
    "case.received": on_case_received,
    "dispatch.delivered": on_dispatch_delivered,
}
