"""Triage: suggest a case's category from its free text (issue 21).

Importing ``shared.triage.model`` loads scikit-learn (seconds); services that do not triage
must not import it at start. ``text``, ``metrics``, ``neardup``, ``tables`` are light.
"""
