"""The Grafana dashboard names only metrics (and labels) the services really export, and the
metrics the issue asks for exist with their labels.

Names come from prometheus_client's default registry after importing every service's
composition root (which imports every module that defines a metric; no I/O at import).
The ``rabbitmq_*`` names are checked against the running broker in tests/e2e/test_console.py.
"""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "shaobao-dashboard.json"
SERVICES = ("intake", "router", "escalation", "notifier")
TARGET_LABELS = {"job", "instance", "service"}  # added by deploy/prometheus/prometheus.yml
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
METRIC = re.compile(r"\b((?:shaobao|rabbitmq)_[a-z0-9_]+)\b(\{[^}]*\})?")
BY = re.compile(r"\bby \(([^)]*)\)")


def exported() -> dict[str, set[str]]:
    """Every sample name the services can export, with its label names."""
    for service in SERVICES:
        importlib.import_module(f"services.{service}.app")
    names: dict[str, set[str]] = {}
    for collector in list(REGISTRY._collector_to_names):  # the registry's own bookkeeping
        labels = set(getattr(collector, "_labelnames", ()))
        for family in collector.collect():
            for suffix in SUFFIXES.get(family.type, ("",)):
                extra = {"le"} if suffix == "_bucket" else set()
                names[family.name + suffix] = labels | extra
    return names


def dashboard_exprs() -> list[str]:
    data = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return [t["expr"] for p in data["panels"] for t in p.get("targets", [])]


def test_the_dashboard_names_only_exported_shaobao_metrics_and_their_labels() -> None:
    names = exported()
    exprs = dashboard_exprs()
    assert exprs, "the dashboard has no queries"
    used = set()
    for expr in exprs:
        metrics = [(m, sel) for m, sel in METRIC.findall(expr) if m.startswith("shaobao_")]
        for name, selector in metrics:
            used.add(name)
            assert name in names, f"{name} in the dashboard is not exported by any service"
            keys = set(re.findall(r"(\w+)\s*[=!~]", selector or ""))
            assert keys <= names[name] | TARGET_LABELS, f"{name}: unknown labels {keys}"
        grouped = {g.strip() for by in BY.findall(expr) for g in by.split(",") if g.strip()}
        known = set().union(*(names.get(m, set()) for m, _ in METRIC.findall(expr)))
        if metrics and all(m.startswith("shaobao_") for m, _ in METRIC.findall(expr)):
            assert grouped <= known | TARGET_LABELS, f"{expr}: groups by unknown {grouped - known}"
    assert len(used) >= 10, sorted(used)


@pytest.mark.parametrize(
    ("name", "labels"),
    [
        ("shaobao_events_consumed_total", {"type", "outcome"}),
        ("shaobao_events_published_total", {"type"}),
        ("shaobao_handler_seconds_bucket", {"type", "le"}),
        ("shaobao_http_requests_total", {"method", "route", "status"}),
        ("shaobao_http_request_seconds_bucket", {"method", "route", "le"}),
        ("shaobao_outbox_lag_seconds", set()),
        ("shaobao_outbox_pending", set()),
        ("shaobao_dead_letters_total", {"queue", "reason"}),
        ("shaobao_deliveries_total", {"outcome"}),
        ("shaobao_deadlines_pending", set()),
        ("shaobao_deadlines_overdue", set()),
        ("shaobao_deadline_lateness_seconds_bucket", {"kind", "le"}),
        ("shaobao_circuit_breakers_open", set()),
    ],
)
def test_the_issue_metrics_exist_with_their_labels(name: str, labels: set[str]) -> None:
    assert exported().get(name) == labels
