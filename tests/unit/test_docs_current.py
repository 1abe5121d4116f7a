"""The API reference in docs/api is generated from the code and kept current."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.gen_openapi import SERVICES, render

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api"


@pytest.mark.parametrize("service", SERVICES)
def test_openapi_document_in_docs_is_current(service: str) -> None:
    expected = render(service)
    actual = (DOCS / f"{service}.json").read_text(encoding="utf-8")
    assert actual == expected, "run: uv run python scripts/gen_openapi.py"
