"""Escalation's Prometheus metrics."""

from prometheus_client import Counter, Gauge, Histogram

LATENESS = Histogram(
    "shaobao_deadline_lateness_seconds",
    "Fired at minus due at, per deadline kind",
    ["kind"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600),
)
FIRED = Counter("shaobao_deadlines_fired_total", "Deadline rows handled by outcome", ["outcome"])
PENDING = Gauge("shaobao_deadlines_pending", "Armed deadline rows")
OVERDUE = Gauge("shaobao_deadlines_overdue", "Armed deadline rows past their due time")
