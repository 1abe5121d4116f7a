"""The notifier's handlers on an in-memory unit of work: who is told what, in milliseconds.

The real-stack tests (tests/e2e/test_notifier_delivery.py, test_webhook_delivery.py,
tests/integration/test_notifier_batch.py) cover the same paths through PostgreSQL and
RabbitMQ, the batch's one read of facts and endpoints included.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from services.notifier.deps import NotifierDeps, NotifierSettings
from services.notifier.handlers.case_dispatched import on_case_dispatched
from services.notifier.handlers.case_received import on_case_received
from services.notifier.handlers.case_resolved import on_case_resolved
from services.notifier.handlers.common import channel_owner
from services.notifier.notice_rules import NoticeRules
from shared.contracts.events import (
    CaseDispatched,
    CaseReceived,
    CaseResolved,
    DispatchInfo,
    LocationData,
)
from shared.domain.owners import OwnerDirectory
from shared.domain.rules import RuleSet
from shared.ids import new_id
from shared.messaging.consumer import RetryLater
from shared.security.pii import PiiVault
from shared.settings import Settings
from tests.support.fake_notifier_unit import FakeNotifierUnit

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 10:00 in Beijing: no quiet hours
PLACE = LocationData(district="d01", street="d01.s01", community="d01.s01.c01",
                     grid="d01.s01.c01.g01")  # fmt: skip


@pytest.fixture(scope="module")
def deps() -> NotifierDeps:
    settings = Settings().for_service("notifier")
    return NotifierDeps(
        PiiVault(settings.pii_key.get_secret_value()), NotifierSettings(), settings,
        OwnerDirectory.load(settings.owners_file), NoticeRules(settings.rules_file),
        RuleSet.load(settings.rules_file).categories,
    )  # fmt: skip


def _facts(case_id: UUID, **extra: Any) -> dict[str, Any]:
    return {"case_id": case_id, "channel": "hotline_12345", "category": "property.elevator",
            "location": PLACE.model_dump(), "urgency": "normal", "petitioner_ref": "p1",
            "received_by": None, "case_number": "SB20261201-000001", "external_id": "E1",
            "title": "电梯停运", "description": "三号楼电梯停运", "address": None,
            "attachments": None, "tier": None} | extra  # fmt: skip


def _dispatched(case_id: UUID) -> CaseDispatched:
    def info(owner: str, role: str) -> DispatchInfo:
        return DispatchInfo(dispatch_id=new_id(), owner_id=owner, owner_name=owner, role=role,  # type: ignore[arg-type]
                            acknowledge_due_at=NOW + timedelta(hours=4),
                            resolve_due_at=NOW + timedelta(days=8))  # fmt: skip

    return CaseDispatched(case_id=case_id, category="property.elevator", title="电梯停运",
                          tier="complex", urgency="normal", rule_id=None, ruleset_version="r1",
                          location=PLACE, dispatches=[info("d01-s01-jd", "lead"),
                                                      info("d01-s01-c01-sq", "co_handler")])  # fmt: skip


async def test_a_received_case_is_remembered_without_raw_contact(deps: NotifierDeps) -> None:
    event = CaseReceived(case_id=new_id(), channel="hotline_12345", category="property.elevator",
                         title="电梯停运", description="d", location=PLACE, petitioner_ref="p1")  # fmt: skip
    uow = FakeNotifierUnit(deps, NOW, event)
    await on_case_received(uow, event)
    stored = uow.memory_facts.rows[event.case_id]
    assert stored["petitioner_ref"] == "p1" and stored["channel"] == "hotline_12345"


async def test_each_dispatched_owner_gets_a_delivery_and_one_without_endpoint_is_marked(
    deps: NotifierDeps,
) -> None:
    case_id = new_id()
    event = _dispatched(case_id)
    uow = FakeNotifierUnit(deps, NOW, event, facts=[_facts(case_id)],
                           endpoints=["d01-s01-jd", channel_owner("hotline_12345")])  # fmt: skip
    await on_case_dispatched(uow, event)
    lead = uow.memory_deliveries.to("d01-s01-jd")
    assert lead["status"] == "pending" and "SB20261201-000001" in lead["body"]["message"]
    assert uow.memory_deliveries.to("d01-s01-c01-sq")["status"] == "no_endpoint"
    callback = uow.memory_deliveries.to(channel_owner("hotline_12345"))
    assert callback["body"]["status"] == "dispatched" and callback["body"]["external_id"] == "E1"
    assert uow.memory_facts.rows[case_id]["tier"] == "complex"  # learnt on the way


async def test_an_event_for_a_case_not_received_yet_is_retried(deps: NotifierDeps) -> None:
    event = _dispatched(new_id())
    with pytest.raises(RetryLater):
        await on_case_dispatched(FakeNotifierUnit(deps, NOW, event), event)


async def test_a_key_persons_resolved_case_gets_a_return_visit_not_a_rating_link(
    deps: NotifierDeps,
) -> None:
    case_id = new_id()
    event = CaseResolved(case_id=case_id, outcome="resolved", summary="已修复",
                         lead_owner_id="d01-s01-jd", key_person=True)  # fmt: skip
    uow = FakeNotifierUnit(deps, NOW, event, facts=[_facts(case_id)])
    await on_case_resolved(uow, event)
    [visit] = uow.memory_deliveries.made
    assert visit["owner_id"] == "d01-s01-c01-sq" and visit["body"]["key_person"] is True
    assert "petitioner" not in uow.memory_endpoints.active


async def test_a_resolved_case_asks_the_petitioner_to_rate_it(deps: NotifierDeps) -> None:
    case_id = new_id()
    event = CaseResolved(case_id=case_id, outcome="resolved", summary="已修复",
                         lead_owner_id="d01-s01-jd")  # fmt: skip
    uow = FakeNotifierUnit(deps, NOW, event, facts=[_facts(case_id)])
    await on_case_resolved(uow, event)
    [asked] = uow.memory_deliveries.made
    assert asked["owner_id"] == "petitioner" and "请对办理结果评价" in asked["body"]["message"]
    assert asked["body"]["petitioner_ref"] == "p1"
