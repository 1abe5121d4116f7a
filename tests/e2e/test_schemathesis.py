"""Generated input against each running service's own OpenAPI: no 5xx, and every answer
(status code, content type, body) is one the document declares.

Schemathesis (v4) reads ``/openapi.json`` from the live process and generates valid and
invalid requests per operation; every request carries a real key of the role the route
admits. Path ids are sometimes real (from a case made here, so the happy path runs) and
sometimes random (404 is fine, 5xx is not). The number of examples is bounded so the
module takes a couple of minutes; ``SHAOBAO_FUZZ_EXAMPLES`` raises it for a deeper run
(100 took about three minutes). Generation is derandomized, so a run repeats the last.

The services here run on their own stack with a high rate limit, so generated data never
touches other tests and a 429 does not hide what a request would have done.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from shared.auth.keys import Role
from shared.db.migrate import migrate_all_async
from tests.e2e.conftest import Keys
from tests.e2e.intake_helpers import XINGFU, phone
from tests.support.services import ServiceProcs
from tests.support.stack import StackUnderTest, create_stack, drop_stack
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

EXAMPLES = int(os.environ.get("SHAOBAO_FUZZ_EXAMPLES", "25"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

# Which key each operation is called with: the role its route admits (admin would pass
# every check and prove nothing about scoping). Default per service, then by path prefix.
DEFAULT_ROLE = {
    "intake": "channel",
    "router": "ops",
    "escalation": "ops",
    "notifier": "ops",
}
ROLE_BY_PATH: dict[tuple[str, str], str] = {
    ("intake", "/v1/cases/{case_id}/petitioner"): "department",
    ("intake", "/v1/petitioners/"): "ops",
    ("intake", "/v1/alerts"): "supervisor",
    ("intake", "/v1/key-persons"): "supervisor",
    ("router", "/v1/dispatches"): "department",
    ("router", "/v1/cases/{case_id}/whistle"): "supervisor",
    ("escalation", "/v1/extensions/"): "supervisor",
    ("escalation", "/v1/whistles/{whistle_id}/report-in"): "department",
    ("escalation", "/v1/whistles/{whistle_id}/lead"): "supervisor",
    ("notifier", "/v1/channel-callbacks/"): "channel",
    ("notifier", "/v1/endpoints/"): "department",
    ("notifier", "/v1/deliveries/{delivery_id}/replay"): "admin",  # a write ops may not do
}


@dataclass
class World:
    """The running services, a key per role, and real ids to put in paths."""

    procs: ServiceProcs
    keys: dict[str, dict[str, str]]
    ids: dict[str, str] = field(default_factory=dict)

    def key_for(self, service: str, path: str) -> dict[str, str]:
        role = DEFAULT_ROLE[service]
        for (svc, prefix), r in ROLE_BY_PATH.items():
            if svc == service and path.startswith(prefix):
                role = r
        return self.keys[role]


@pytest.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    stack = await create_stack("fuzz")
    await migrate_all_async(stack.database_url)
    procs = ServiceProcs(
        stack=stack,
        log_dir=Path(tmp_path_factory.mktemp("fuzz-logs")),
        env_extra={
            "SHAOBAO_RATE_LIMIT_PER_SECOND": "10000",
            "SHAOBAO_RATE_LIMIT_BURST": "100000",
            "SHAOBAO_ANON_RATE_LIMIT_PER_SECOND": "10000",
            "SHAOBAO_ANON_RATE_LIMIT_BURST": "100000",
            "SHAOBAO_FAILED_KEY_PER_SECOND": "10000",
            "SHAOBAO_FAILED_KEY_BURST": "100000",
            "SHAOBAO_NOTIFIER_QUIET_START": "00:00",
            "SHAOBAO_NOTIFIER_QUIET_END": "00:00",
        },
    )
    try:
        await procs.start_all()
        yield await _populate(stack, procs)
    finally:
        procs.stop_all()
        await drop_stack(stack)


async def _populate(stack: StackUnderTest, procs: ServiceProcs) -> World:
    """One dispatched case, so real ids exist; keys for it and for every role."""
    maker = Keys(stack)
    channel = await maker.make(Role.CHANNEL, channel="hotline_12345")
    ops = await maker.make(Role.OPS)
    body = {
        "category": "property.elevator",
        "title": "3号楼电梯停运",
        "description": "电梯停运两天，老人无法下楼。",
        "location": XINGFU,
        "external_id": f"F-{secrets.token_hex(4)}",
        "petitioner": {"name": "王女士", "phone": phone()},
    }
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.post(f"{procs.url('intake')}/v1/cases", json=body, headers=channel)
        assert r.status_code == 201, r.text
        case_id = r.json()["case_id"]

        async def dispatched() -> dict[str, Any] | None:
            got = await http.get(f"{procs.url('router')}/v1/cases/{case_id}", headers=ops)
            return got.json() if got.status_code == 200 and got.json()["dispatches"] else None

        case = await eventually(dispatched, what="the fuzz case dispatched")
    lead = next(d for d in case["dispatches"] if d["role"] == "lead")
    keys = {
        "channel": channel,
        "ops": ops,
        "department": await maker.make(Role.DEPARTMENT, owner=lead["owner_id"]),
        "supervisor": await maker.make(Role.SUPERVISOR, owner="d01-xfb"),
        "admin": await maker.make(Role.ADMIN),
    }
    ids = {
        "case_id": case_id,
        "dispatch_id": lead["dispatch_id"],
        "owner_id": lead["owner_id"],
        "channel": "hotline_12345",
        "ref": body["external_id"],
    }
    return World(procs=procs, keys=keys, ids=ids)


@pytest.mark.parametrize("service", ["intake", "router", "escalation", "notifier"])
def test_generated_requests_get_no_5xx_and_only_declared_answers(
    world: World, service: str
) -> None:
    base = world.procs.url(service)
    document = requests.get(f"{base}/openapi.json", timeout=10).json()
    schema = schemathesis.openapi.from_dict(document)
    problems: list[str] = []
    session = requests.Session()
    for result in schema.get_all_operations():
        operation = result.ok()
        headers = world.key_for(service, operation.path)
        found = _fuzz(operation, base, headers, session, world.ids)
        if found:
            problems.append(f"{operation.label}: {found}")
    assert not problems, f"{service}: {len(problems)} operation(s) failed\n" + "\n".join(problems)


def _fuzz(
    operation: Any,
    base: str,
    headers: dict[str, str],
    session: requests.Session,
    ids: dict[str, str],
) -> str | None:
    """Run the bounded examples of one operation; the first failure as text, or None."""
    strategy = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )
    seen: list[str] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy, real=st.booleans())
    def run(case: Any, real: bool) -> None:
        if real and case.path_parameters:
            for name in case.path_parameters:
                if name in ids:
                    case.path_parameters[name] = ids[name]
        try:
            case.call_and_validate(base_url=base, session=session, headers=headers, checks=CHECKS)
        except (Failure, FailureGroup) as exc:
            if not seen:
                seen.append(str(exc))
            raise

    try:
        run()
    except (Failure, FailureGroup, AssertionError):
        return seen[0] if seen else "failed"
    return None


NUL = "a\x00b"
BASE_CASE = {"category": "property.elevator", "title": "t", "description": "d", "location": XINGFU}


@pytest.mark.parametrize(
    ("service", "method", "path", "role", "body"),
    [
        ("intake", "POST", "/v1/cases", "channel", BASE_CASE | {"title": NUL}),
        ("intake", "GET", "/v1/refs/hotline_12345/a%00b", "channel", None),
        ("intake", "GET", "/v1/key-persons/a%00b", "supervisor", None),
        ("router", "POST", "/v1/dispatches/{dispatch_id}/progress", "department", {"note": NUL}),
        ("router", "POST", "/v1/cases/{case_id}/whistle", "supervisor",
         {"reason": NUL, "convene": ["d01-cgw"]}),
        ("router", "GET", "/v1/reports/kpis?to=0001-01-02T00:00:00Z", "ops", None),
        ("notifier", "GET", "/v1/deliveries?status=a%00b", "ops", None),
        ("notifier", "GET", "/v1/notices?category=a%00b", "ops", None),
        ("escalation", "POST", "/v1/extensions/{dispatch_id}/decide", "supervisor",
         {"approve": True, "extra": 1}),
    ],
)  # fmt: skip
def test_what_schemathesis_found_is_now_a_422_with_a_reason(
    world: World, service: str, method: str, path: str, role: str, body: Any
) -> None:
    """Each of these answered 500 (NUL reached PostgreSQL; year 1 minus 30 days overflowed)
    or was taken silently (an unknown field on a strict contract)."""
    url = world.procs.url(service) + path.format(**world.ids)
    r = requests.request(method, url, json=body, headers=world.keys[role], timeout=10)
    assert r.status_code == 422, r.text
    assert "\u4e00" <= r.json()["detail"][0] <= "\u9fff", r.text
