"""Prometheus metrics shared by every service (one process, one default registry)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_PUBLISHED = Counter(
    "shaobao_events_published_total", "Events published by the outbox relay", ["type"]
)
EVENTS_CONSUMED = Counter(
    "shaobao_events_consumed_total",
    "Events taken from a queue, by outcome (applied, duplicate, retried, dead_lettered)",
    ["type", "outcome"],
)
HANDLER_SECONDS = Histogram(
    "shaobao_handler_seconds",
    "Time to handle one event, transaction included",
    ["type"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
OUTBOX_LAG = Gauge("shaobao_outbox_lag_seconds", "Age of the oldest unpublished outbox event")
OUTBOX_PENDING = Gauge("shaobao_outbox_pending", "Unpublished outbox events seen by the relay")
DEAD_LETTERS = Counter(
    "shaobao_dead_letters_total", "Messages sent to the dead-letter queue", ["queue", "reason"]
)
HTTP_REQUESTS = Counter(
    "shaobao_http_requests_total",
    "HTTP requests by route and status",
    ["method", "route", "status"],
)
HTTP_SECONDS = Histogram(
    "shaobao_http_request_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
DELIVERIES = Counter(
    "shaobao_deliveries_total", "Webhook delivery attempts by outcome", ["outcome"]
)
