"""Text no database or person can hold is refused with 422, never a 500 (issue 17 #8, #14).

A lone surrogate (``"\\udfff"`` as a JSON escape) cannot be encoded as UTF-8 and NUL cannot
be stored by PostgreSQL; both used to reach the vault or the driver and answer 500 (or be
stored, for NUL in an email address). The bodies are sent as the JSON text a client
would send (``ensure_ascii`` writes the escapes), since Python cannot encode them itself.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import httpx
import pytest

from shared.auth.keys import Role
from tests.e2e.conftest import Keys
from tests.e2e.test_first_case import ELEVATOR
from tests.support.services import ServiceProcs
from tests.support.stack import StackUnderTest

pytestmark = pytest.mark.e2e

LONE = "\udfff"
WHO = {"name": "王女士", "phone": "13900001111"}
BAD_CASES = {
    "external_id": ELEVATOR | {"external_id": f"A-{LONE}"},
    "received_by": ELEVATOR | {"received_by": f"窗口{LONE}"},
    "petitioner.name": ELEVATOR | {"petitioner": WHO | {"name": f"王{LONE}"}},
    "petitioner.email": ELEVATOR | {"petitioner": WHO | {"email": "a\u0000@example.com"}},
    "title": ELEVATOR | {"title": f"电梯{LONE}停运"},
    "related_refs.0.ref": ELEVATOR | {"related_refs": [{"channel": "wechat", "ref": LONE}]},
}


def _raw(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=True).encode("ascii")


async def _counts(stack: StackUnderTest) -> tuple[int, int, int]:
    row = (
        await stack.fetch(
            "SELECT (SELECT count(*) FROM intake.cases) AS c,"
            " (SELECT count(*) FROM intake.petitioners) AS p,"
            " (SELECT count(*) FROM intake.outbox) AS e"
        )
    )[0]
    return int(row["c"]), int(row["p"]), int(row["e"])


@pytest.mark.parametrize("field", sorted(BAD_CASES))
async def test_a_lone_surrogate_or_nul_in_a_text_field_is_422_naming_the_field(
    services: ServiceProcs, keys: Keys, stack: StackUnderTest, field: str
) -> None:
    channel = await keys.make(Role.CHANNEL, channel="walk_in")
    headers = channel | {"Content-Type": "application/json"}
    url = f"{services.url('intake')}/v1/cases"
    before = await _counts(stack)
    async with httpx.AsyncClient(timeout=10) as http:
        one = await http.post(url, content=_raw(BAD_CASES[field]), headers=headers)
        assert one.status_code == 422, one.text
        assert field in {e["field"] for e in one.json()["errors"]}
        batch = {"cases": [ELEVATOR | {"external_id": f"B-{secrets.token_hex(4)}"}]}
        batch["cases"].append(BAD_CASES[field] | {"external_id": f"B-{secrets.token_hex(4)}"})
        if field == "external_id":
            batch["cases"][1]["external_id"] = f"B-{LONE}"
        many = await http.post(f"{url}/batch", content=_raw(batch), headers=headers)
        assert many.status_code == 422, many.text
        assert f"cases.1.{field}" in {e["field"] for e in many.json()["errors"]}
        assert (await http.get(f"{services.url('intake')}/healthz")).status_code == 200
    assert await _counts(stack) == before


async def test_an_unknown_field_named_by_a_lone_surrogate_is_422(
    services: ServiceProcs, keys: Keys
) -> None:
    channel = await keys.make(Role.CHANNEL, channel="walk_in")
    headers = channel | {"Content-Type": "application/json"}
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.post(
            f"{services.url('intake')}/v1/cases",
            content=_raw(ELEVATOR | {LONE: 1}),
            headers=headers,
        )
    assert r.status_code == 422, r.text
