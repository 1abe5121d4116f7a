"""Which errors mean "a dependency is away" (503 + Retry-After) and which stay 500s.

The outage itself is exercised end to end by test_faults.py (PostgreSQL stop/start); this
pins the classification, including what must not be hidden as an outage.
"""

from __future__ import annotations

import asyncpg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import exc as sa_exc

from shared.web.app import _add_error_handlers, dependency_unavailable


class _Orig(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def _dbapi(orig: BaseException, *, invalidated: bool = False) -> sa_exc.DBAPIError:
    return sa_exc.DBAPIError("SELECT 1", None, orig, connection_invalidated=invalidated)


@pytest.mark.parametrize(
    ("error", "part"),
    [
        (ConnectionRefusedError(111, "Connection refused"), "database"),
        (TimeoutError(), "database"),
        (sa_exc.TimeoutError("QueuePool limit of size 10 overflow 5 reached"), "database"),
        (_dbapi(_Orig("57P03")), "database"),  # the database system is starting/shutting down
        (_dbapi(_Orig("57P01")), "database"),  # terminating connection (admin shutdown)
        (_dbapi(_Orig("25006")), "database"),  # read-only: a session left on a demoted primary
        (_dbapi(_Orig("08006")), "database"),  # connection failure
        (_dbapi(ValueError("x"), invalidated=True), "database"),
        (asyncpg.CannotConnectNowError("starting up"), "database"),
        (_dbapi(_Orig("23505")), None),  # unique violation: a bug or a conflict, not an outage
        (_dbapi(_Orig("42P01")), None),  # undefined table: a bug
        (ValueError("boom"), None),
    ],
)
def test_an_error_is_an_outage_only_when_a_dependency_is_away(
    error: BaseException, part: str | None
) -> None:
    assert dependency_unavailable(error) == part


def test_an_outage_answers_503_with_retry_after_and_a_bug_stays_500() -> None:
    app = FastAPI()
    _add_error_handlers(app)

    @app.get("/down")
    async def down() -> None:
        raise ConnectionRefusedError(111, "Connection refused")

    @app.get("/bug")
    async def bug() -> None:
        raise _dbapi(_Orig("42P01"))

    client = TestClient(app, raise_server_exceptions=False)
    r = client.get("/down")
    assert r.status_code == 503
    assert int(r.headers["retry-after"]) >= 1
    assert r.json()["detail"].startswith("服务暂时不可用")
    assert client.get("/bug").status_code == 500
