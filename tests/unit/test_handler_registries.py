"""Every service's handlers are keyed by the payload class they consume; the routing keys
the queues bind come from the contract, stated once."""

from __future__ import annotations

import importlib
import inspect
from typing import Any, get_type_hints

import pytest

from shared.messaging.consumer import routing_keys

SERVICES = ["intake", "router", "escalation", "notifier"]

# The queues' bindings as they were when each registry restated its routing keys.
BINDINGS = {
    "intake": ["case.classified", "case.closed", "case.dispatched", "case.reopened",
               "case.resolved", "dispatch.acknowledged", "dispatch.cancelled",
               "dispatch.returned"],
    "router": ["case.duplicate_linked", "case.escalated", "case.received", "case.reminder",
               "dispatch.delivered", "dispatch.extension_decided", "feedback.received",
               "whistle.blown", "whistle.lead_designated", "whistle.unconvened"],
    "escalation": ["case.classified", "case.dispatched", "case.disputed",
                   "case.held_for_triage", "dispatch.acknowledged", "dispatch.cancelled",
                   "dispatch.extension_requested", "dispatch.progressed",
                   "dispatch.resolved", "dispatch.returned"],
    "notifier": ["alert.raised", "case.closed", "case.dispatched", "case.escalated",
                 "case.received", "case.reminder", "case.reopened", "case.resolved",
                 "dispatch.acknowledged", "dispatch.extension_decided",
                 "dispatch.extension_requested", "dispatch.progressed", "dispatch.resolved",
                 "whistle.blown"],
}  # fmt: skip


def _handlers(service: str) -> Any:
    return importlib.import_module(f"services.{service}.handlers.registry").HANDLERS


@pytest.mark.parametrize("service", SERVICES)
def test_each_handler_is_registered_under_the_payload_class_it_consumes(service: str) -> None:
    for model, handler in _handlers(service).items():
        handle = inspect.unwrap(handler)
        event_param = list(inspect.signature(handle).parameters)[1]
        assert get_type_hints(handle)[event_param] is model, handle.__qualname__


@pytest.mark.parametrize("service", SERVICES)
def test_the_queue_binds_the_routing_keys_of_the_contracts(service: str) -> None:
    assert routing_keys(_handlers(service)) == BINDINGS[service]
