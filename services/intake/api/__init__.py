"""Intake's web layer: one module per resource, each a ``router`` that app.py includes; the
rating page (``feedback_page``) and Open311 (``open311``, ``open311_render``) are routes too."""
