"""docs/state-diagram.md is rendered from the transition tables and kept current."""

from __future__ import annotations

from scripts.gen_state_diagram import OUTPUT, render
from shared.domain.lifecycle import CASE_TRANSITIONS, DISPATCH_TRANSITIONS


def test_the_state_diagram_in_docs_is_current() -> None:
    assert OUTPUT.read_text(encoding="utf-8") == render(), (
        "run: uv run python scripts/gen_state_diagram.py"
    )


def test_the_diagram_draws_every_transition_of_both_tables() -> None:
    text = render()
    for row in CASE_TRANSITIONS + DISPATCH_TRANSITIONS:
        arrow = f"{row['source'].value} --> {row['dest'].value} : {row['trigger']}"
        assert arrow in text, arrow
    assert text.count("stateDiagram-v2") == 2
