"""Escalation's web layer: one module per resource, each a ``router`` that app.py includes."""
