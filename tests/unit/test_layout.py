"""The one layout: use-case refusals answer their status without the web layer, and the
services' own commands reach ``shaobao`` through entry points (shared imports no service)."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from shared.cli.main import app as shaobao
from shared.domain.errors import Conflict, DomainError, Invalid, NotFound
from shared.web.app import _add_error_handlers


@pytest.mark.parametrize(("error", "status"), [(NotFound, 404), (Conflict, 409), (Invalid, 422)])
def test_a_use_case_refusal_answers_its_status_with_the_reason(
    error: type[DomainError], status: int
) -> None:
    app = FastAPI()
    _add_error_handlers(app)

    @app.get("/refuse")
    async def refuse() -> None:
        raise error("网格员 w1 未登记 (unknown grid worker)")

    answer = TestClient(app).get("/refuse")
    assert answer.status_code == status
    assert answer.json() == {"detail": "网格员 w1 未登记 (unknown grid worker)"}


@pytest.mark.parametrize(
    "command", [["deadlines", "replan", "--help"], ["rules", "simulate", "--help"]]
)
def test_the_services_commands_are_plugged_into_shaobao(command: list[str]) -> None:
    done = CliRunner().invoke(shaobao, command)
    assert done.exit_code == 0, done.output
