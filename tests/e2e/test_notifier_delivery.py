"""The notifier on its own stack (small breaker threshold, local SMTP and SMS gateway):
a dead receiver trips the breaker and alerts ops, and what waited arrives in order once
it recovers; email reaches a real SMTP server; the petitioner is told by SMS with the
contact fetched from intake (never through RabbitMQ); the notice board shows no personal
data; a channel hears its case's status; a failed delivery is listed and replayed."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest
from aiosmtpd.controller import Controller
from starlette.requests import Request
from starlette.responses import JSONResponse

from shared.auth.keys import Role
from shared.db.migrate import migrate_all_async
from tests.e2e.conftest import Keys
from tests.support.receiver import WebhookReceiver
from tests.support.services import ROOT, ServiceProcs, free_port
from tests.support.stack import StackUnderTest, create_stack, drop_stack
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e
HERE = {"district": "d01", "street": "s01", "community": "c01", "grid": "g01", "compound": "k01"}
PERSON = {"name": "李四海", "phone": "13912345678", "id_number": "110101199003071234"}


class Mailbox:
    """aiosmtpd handler: keeps every message it is handed."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = BytesParser(policy=policy.default).parsebytes(envelope.content)
        text = f"Subject: {msg['Subject']}\n" + msg.get_body().get_content()  # type: ignore[union-attr]
        self.messages.append((list(envelope.rcpt_tos), text))
        return "250 Message accepted for delivery"


class SmsGateway(WebhookReceiver):
    """An HTTP SMS gateway stand-in: records ``{"to", "text"}`` posts (not signed)."""

    async def _handle(self, request: Request) -> JSONResponse:
        self.accepted.append(await request.json())
        return JSONResponse({"ok": True})


@pytest.fixture(scope="module")
async def n_stack() -> AsyncIterator[StackUnderTest]:
    s = await create_stack("notif")
    await migrate_all_async(s.database_url)
    yield s
    await drop_stack(s)


@pytest.fixture(scope="module")
def n_keys(n_stack: StackUnderTest) -> Keys:
    return Keys(n_stack)


@pytest.fixture(scope="module")
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


@pytest.fixture(scope="module")
async def sms() -> AsyncIterator[SmsGateway]:
    async with SmsGateway("unused-secret-unused") as gateway:
        yield gateway


@pytest.fixture(scope="module")
async def notif(
    n_stack: StackUnderTest,
    n_keys: Keys,
    mailbox: tuple[Mailbox, int],
    sms: SmsGateway,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[ServiceProcs]:
    service_key = (await n_keys.make(Role.SERVICE))["Authorization"].removeprefix("Bearer ")
    procs = ServiceProcs(
        stack=n_stack,
        log_dir=Path(tmp_path_factory.mktemp("notifier-logs")),
        env_extra={
            "SHAOBAO_WEBHOOK_BACKOFF_BASE_SECONDS": "0.1",
            "SHAOBAO_WEBHOOK_MAX_ATTEMPTS": "30",
            "SHAOBAO_NOTIFIER_BREAKER_THRESHOLD": "3",
            "SHAOBAO_NOTIFIER_BREAKER_COOLDOWN_SECONDS": "1",
            "SHAOBAO_NOTIFIER_SMTP_PORT": str(mailbox[1]),
            "SHAOBAO_NOTIFIER_SMS_GATEWAY_URL": sms.url,
            "SHAOBAO_NOTIFIER_INTAKE_KEY": service_key,
            "SHAOBAO_NOTIFIER_QUIET_START": "00:00",  # an empty quiet window: send any time
            "SHAOBAO_NOTIFIER_QUIET_END": "00:00",
        },
    )
    procs.ports["intake"] = free_port()
    procs.env_extra["SHAOBAO_NOTIFIER_INTAKE_URL"] = f"http://127.0.0.1:{procs.ports['intake']}"
    await procs.start_all()
    yield procs
    procs.stop_all()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def submit(
    http: httpx.AsyncClient, notif: ServiceProcs, keys: Keys, category: str, **extra: Any
) -> str:
    channel = await keys.make(Role.CHANNEL, channel=extra.pop("channel", "wechat"))
    body = {"category": category, "title": f"事项 {secrets.token_hex(3)}", "description": "详见",
            "location": HERE, "external_id": f"n-{secrets.token_hex(6)}"} | extra  # fmt: skip
    r = await http.post(f"{notif.url('intake')}/v1/cases", json=body, headers=channel)
    assert r.status_code == 201, r.text
    return str(r.json()["case_id"])


async def deliveries(
    http: httpx.AsyncClient, notif: ServiceProcs, keys: Keys, **params: str
) -> list[dict[str, Any]]:
    ops = await keys.make(Role.OPS)
    r = await http.get(f"{notif.url('notifier')}/v1/deliveries", params=params, headers=ops)
    assert r.status_code == 200, r.text
    return list(r.json())


async def put_endpoint(
    http: httpx.AsyncClient, notif: ServiceProcs, keys: Keys, owner: str, url: str, secret: str
) -> None:
    admin = await keys.make(Role.ADMIN)
    r = await http.put(
        f"{notif.url('notifier')}/v1/endpoints/{owner}",
        json={"url": url, "secret": secret},
        headers=admin,
    )
    assert r.status_code == 200, r.text


async def outbox_bodies(stack: StackUnderTest, routing_key: str | None = None) -> list[bytes]:
    conn = await asyncpg.connect(stack.raw_database_url)
    try:
        rows = []
        for schema in ("intake", "router", "escalation", "notifier"):
            sql = f"SELECT body FROM {schema}.outbox" + (
                " WHERE routing_key = $1" if routing_key else ""
            )
            rows += await conn.fetch(sql, *([routing_key] if routing_key else []))
        return [bytes(r["body"]) for r in rows]
    finally:
        await conn.close()


async def resolve_lead(
    http: httpx.AsyncClient, notif: ServiceProcs, keys: Keys, case_id: str
) -> None:
    ops = await keys.make(Role.OPS)

    async def lead() -> dict[str, Any] | None:
        r = await http.get(f"{notif.url('router')}/v1/cases/{case_id}", headers=ops)
        ds = r.json().get("dispatches", []) if r.status_code == 200 else []
        return next((d for d in ds if d["role"] == "lead"), None)

    d = await eventually(lead, what="lead dispatch")
    dept = await keys.make(Role.DEPARTMENT, owner=d["owner_id"])
    base = f"{notif.url('router')}/v1/dispatches/{d['dispatch_id']}"
    assert (await http.post(f"{base}/acknowledge", headers=dept)).status_code == 200
    body = {"outcome": "resolved", "summary": "已处理"}
    assert (await http.post(f"{base}/resolve", json=body, headers=dept)).status_code == 200


async def test_a_dead_receiver_trips_the_breaker_alerts_ops_and_gets_what_waited_in_order(
    notif: ServiceProcs, n_stack: StackUnderTest, n_keys: Keys, http: httpx.AsyncClient
) -> None:
    async with WebhookReceiver(secrets.token_urlsafe(24)) as receiver:
        receiver.fail_next = 10**6
        await put_endpoint(http, notif, n_keys, "wy-xingfu", receiver.url, receiver.secret)
        case_ids = []
        for _ in range(3):
            case_ids.append(await submit(http, notif, n_keys, "property.elevator"))
            await eventually(
                lambda: _mine(http, notif, n_keys, case_ids[-1]), what="delivery row made"
            )

        async def alerted() -> bool:
            bodies = await outbox_bodies(n_stack, "endpoint.circuit_opened")
            return any(b'"wy-xingfu"' in b for b in bodies)

        await eventually(alerted, timeout=30, what="endpoint.circuit_opened for wy-xingfu")

        async def gauge_open() -> bool:
            metrics = (await http.get(f"{notif.url('notifier')}/metrics")).text
            return "shaobao_circuit_breakers_open 1.0" in metrics

        await eventually(gauge_open, what="breaker gauge at 1")
        waiting = [await _mine(http, notif, n_keys, c) for c in case_ids]
        assert all(d and d["status"] == "pending" for d in waiting)
        tried = sum(d["attempts"] for d in waiting if d)
        await asyncio.sleep(1.5)  # open: nothing is hammered while the breaker waits
        waiting = [await _mine(http, notif, n_keys, c) for c in case_ids]
        assert sum(d["attempts"] for d in waiting if d) <= tried + 2  # at most a probe or two

        receiver.fail_next = 0

        async def all_delivered() -> bool:
            rows = [await _mine(http, notif, n_keys, c) for c in case_ids]
            return all(d and d["status"] == "delivered" for d in rows)

        await eventually(all_delivered, timeout=30, what="waiting deliveries sent")
    arrived = [m["case_id"] for m in receiver.accepted if m.get("case_id") in case_ids]
    assert arrived == case_ids
    assert receiver.rejected_signatures == 0

    async def gauge_closed() -> bool:
        metrics = (await http.get(f"{notif.url('notifier')}/metrics")).text
        return "shaobao_circuit_breakers_open 0.0" in metrics

    await eventually(gauge_closed, what="breaker gauge back to 0")


async def _mine(
    http: httpx.AsyncClient, notif: ServiceProcs, keys: Keys, case_id: str
) -> dict[str, Any] | None:
    rows = await deliveries(http, notif, keys, case_id=case_id)
    return next((d for d in rows if d["owner_id"] == "wy-xingfu"), None)


async def test_an_owner_with_an_email_endpoint_gets_a_real_email(
    notif: ServiceProcs, n_keys: Keys, http: httpx.AsyncClient, mailbox: tuple[Mailbox, int]
) -> None:
    box, _ = mailbox
    await put_endpoint(
        http, notif, n_keys, "d01-sthj", "mailto:sthj@example.org", secrets.token_urlsafe(16)
    )
    case_id = await submit(http, notif, n_keys, "environment.cooking_fume")

    async def mail() -> tuple[list[str], str] | None:
        return next((m for m in box.messages if case_id in m[1]), None)

    rcpt, content = await eventually(mail, timeout=30, what="email at the SMTP server")
    assert rcpt == ["sthj@example.org"]
    assert "Subject:" in content


async def test_the_petitioner_is_told_by_sms_and_the_notice_board_shows_no_personal_data(
    notif: ServiceProcs,
    n_stack: StackUnderTest,
    n_keys: Keys,
    http: httpx.AsyncClient,
    sms: SmsGateway,
) -> None:
    case_id = await submit(
        http, notif, n_keys, "environment.cooking_fume", petitioner=PERSON, urgency="urgent"
    )
    await resolve_lead(http, notif, n_keys, case_id)

    async def texted() -> dict[str, Any] | None:
        return next((m for m in sms.accepted if case_id[:8] in m["text"]), None)

    message = await eventually(texted, timeout=30, what="SMS to the petitioner")
    assert message["to"] == PERSON["phone"]
    ops = await n_keys.make(Role.OPS)
    case = await http.get(f"{notif.url('router')}/v1/cases/{case_id}", headers=ops)
    number = case.json()["case_number"]
    assert re.fullmatch(r"SB\d{8}-\d{6}", number) and f"编号 {number}" in message["text"]
    link = message["text"].split("：")[-1].strip()
    assert "/v1/feedback/" in link
    token = link.rsplit("/", 1)[-1]
    rate = f"{notif.url('intake')}/v1/feedback/{token}"
    forged = await http.post(rate[:-4] + "0000", json={"rating": "satisfied"})
    assert forged.status_code == 404
    rated = await http.post(rate, json={"rating": "satisfied", "comment": "链接评价"})
    assert rated.status_code == 202, rated.text
    assert (await http.post(rate, json={"rating": "satisfied"})).status_code == 409

    async def noticed() -> list[dict[str, Any]] | None:
        r = await http.get(f"{notif.url('notifier')}/v1/notices")  # public: no key
        assert r.status_code == 200
        rows = [n for n in r.json() if n["case_ref"] == number]
        return r.json() if rows else None

    board = await eventually(noticed, what="notice published")
    text = str(board)
    for secret in (PERSON["name"], PERSON["phone"], PERSON["id_number"], "13912345678"):
        assert secret not in text
    mine = next(n for n in board if n["case_ref"] == number)
    assert set(mine["location"]) <= {"district", "street", "community", "grid", "compound"}
    assert mine["outcome"] == "resolved" and mine["category"] == "environment.cooking_fume"
    for body in await outbox_bodies(n_stack):  # every event that went through RabbitMQ
        for raw in (PERSON["phone"], PERSON["id_number"], PERSON["name"]):
            assert raw.encode() not in body
    rows = await deliveries(http, notif, n_keys, case_id=case_id)
    assert any(d["owner_id"] == "petitioner" and d["status"] == "delivered" for d in rows)


async def test_the_sms_link_opens_a_rating_page_whose_form_closes_the_case_once(
    notif: ServiceProcs, n_keys: Keys, http: httpx.AsyncClient, sms: SmsGateway
) -> None:
    """As the petitioner: open the SMS link (GET, as a phone does), pick 不满意/满意 on the
    page, submit the form; the case closes once, and the page then says it was rated."""
    case_id = await submit(http, notif, n_keys, "environment.cooking_fume", petitioner=PERSON)
    await resolve_lead(http, notif, n_keys, case_id)

    async def texted() -> dict[str, Any] | None:  # the link's token names the whole case id
        return next((m for m in sms.accepted if f"/{case_id}." in m["text"]), None)

    link = (await eventually(texted, timeout=30, what="SMS"))["text"].split("：")[-1].strip()
    page_url = f"{notif.url('intake')}/v1/feedback/{link.rsplit('/', 1)[-1]}"

    async def resolved_page() -> httpx.Response | None:
        r = await http.get(page_url)
        return r if "提交评价" in r.text else None

    page = await eventually(resolved_page, timeout=30, what="the page offers the rating")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert (
        "width=device-width" in page.text
        and "frame-ancestors 'none'" in page.headers["content-security-policy"]
    )
    for shown in ("满意", "基本满意", "不满意", "餐饮油烟扰民", "已解决", "已处理", "生态环境局"):
        assert shown in page.text, shown
    assert PERSON["phone"] not in page.text and PERSON["name"] not in page.text

    empty = await http.post(page_url, data={"comment": "没选"})
    assert empty.status_code == 422 and "请选择" in empty.text
    form = {"rating": "satisfied", "comment": "处理及时"}
    sent = await http.post(page_url, data=form)
    assert sent.status_code == 303 and sent.headers["location"] == urlsplit(page_url).path
    assert "您已评价" in (await http.get(page_url)).text
    again = await http.post(page_url, data={"rating": "unsatisfied"})
    assert again.status_code == 303  # the page shows the rating already taken; nothing changes

    ops = await n_keys.make(Role.OPS)

    async def closed() -> dict[str, Any] | None:
        r = await http.get(f"{notif.url('router')}/v1/cases/{case_id}", headers=ops)
        return r.json() if r.json()["state"] == "closed" else None

    case = await eventually(closed, timeout=30, what="case closed by the page's rating")
    reasons = [t["reason"] for t in case["timeline"] if t["action"] == "closed"]
    assert len(reasons) == 1 and "满意" in reasons[0] and "不满意" not in reasons[0]

    forged = await http.get(page_url[:-4] + "0000")
    assert forged.status_code == 404 and "评价链接无效或已过期" in forged.text


async def test_the_channel_callback_carries_its_number_progress_result_rating_and_reopen(
    notif: ServiceProcs, n_keys: Keys, http: httpx.AsyncClient
) -> None:
    """As the street platform (grid_app): nothing to copy back by hand from another screen."""
    channel = await n_keys.make(Role.CHANNEL, channel="grid_app")
    ops = await n_keys.make(Role.OPS)
    async with WebhookReceiver(secrets.token_urlsafe(24)) as receiver:
        url = f"{notif.url('notifier')}/v1/channel-callbacks/grid_app"
        body = {"url": receiver.url, "secret": receiver.secret}
        assert (await http.put(url, json=body, headers=channel)).status_code == 200
        external_id = f"JD-{secrets.token_hex(4)}"
        case_id = await submit(
            http, notif, n_keys, "environment.cooking_fume", channel="grid_app",
            external_id=external_id,
        )  # fmt: skip

        async def lead() -> dict[str, Any] | None:
            r = await http.get(f"{notif.url('router')}/v1/cases/{case_id}", headers=ops)
            return next((d for d in r.json().get("dispatches", []) if d["role"] == "lead"), None)

        d = await eventually(lead, what="lead dispatch")
        dept = await n_keys.make(Role.DEPARTMENT, owner=d["owner_id"])
        base = f"{notif.url('router')}/v1/dispatches/{d['dispatch_id']}"
        assert (await http.post(f"{base}/acknowledge", headers=dept)).status_code == 200
        note = {"note": "已约谈餐馆负责人，限三日内安装净化器", "minutes_spent": 40}
        assert (await http.post(f"{base}/progress", json=note, headers=dept)).status_code == 200
        done = {"outcome": "resolved", "summary": "净化器已安装，复查达标"}
        assert (await http.post(f"{base}/resolve", json=done, headers=dept)).status_code == 200

        async def resolved_in_intake() -> bool:
            r = await http.get(f"{notif.url('intake')}/v1/cases/{case_id}", headers=channel)
            return r.json()["status"] == "resolved"

        await eventually(resolved_in_intake, what="intake status resolved")
        rate = {"rating": "unsatisfied", "comment": "仍有油烟"}
        r = await http.post(
            f"{notif.url('intake')}/v1/cases/{case_id}/feedback", json=rate, headers=channel
        )
        assert r.status_code == 202, r.text

        async def heard() -> dict[str, dict[str, Any]] | None:
            mine = {m["event"]: m for m in receiver.accepted if m.get("case_id") == case_id}
            return mine if {"dispatch.progressed", "case.reopened"} <= set(mine) else None

        calls = await eventually(heard, timeout=30, what="progress and reopen callbacks")
    assert all(c["external_id"] == external_id for c in calls.values())
    assert all(re.fullmatch(r"SB\d{8}-\d{6}", c["case_number"]) for c in calls.values())
    progressed = calls["dispatch.progressed"]
    assert progressed["note"] == note["note"] and note["note"] in progressed["message"]
    assert "生态环境局" in progressed["message"] and "UTC" not in progressed["message"]
    resolved = calls["case.resolved"]
    assert (resolved["outcome"], resolved["summary"]) == ("resolved", done["summary"])
    reopened = calls["case.reopened"]
    assert reopened["rating"] == "unsatisfied" and "不满意" in reopened["message"]
    assert receiver.rejected_signatures == 0


async def resolve_all(
    http: httpx.AsyncClient, notif: ServiceProcs, keys: Keys, case_id: str
) -> None:
    """Acknowledge and resolve every dispatch of the case, co-handlers first."""
    ops = await keys.make(Role.OPS)

    async def dispatched() -> list[dict[str, Any]] | None:
        r = await http.get(f"{notif.url('router')}/v1/cases/{case_id}", headers=ops)
        return r.json()["dispatches"] if r.status_code == 200 and r.json()["dispatches"] else None

    for d in sorted(
        await eventually(dispatched, what="dispatches"), key=lambda d: d["role"] == "lead"
    ):
        dept = await keys.make(Role.DEPARTMENT, owner=d["owner_id"])
        base = f"{notif.url('router')}/v1/dispatches/{d['dispatch_id']}"
        assert (await http.post(f"{base}/acknowledge", headers=dept)).status_code == 200
        body = {"outcome": "resolved", "summary": "已处理"}
        r = await http.post(f"{base}/resolve", json=body, headers=dept)
        assert r.status_code == 200, r.text


async def notifier_took_resolution(stack: StackUnderTest, case_id: str) -> bool:
    conn = await asyncpg.connect(stack.raw_database_url)
    try:
        return bool(
            await conn.fetchval(
                "SELECT count(*) FROM router.outbox o JOIN notifier.inbox i USING (event_id) "
                "WHERE o.routing_key = 'case.resolved' AND o.case_id = $1",
                UUID(case_id),
            )
        )
    finally:
        await conn.close()


async def test_the_notice_board_never_shows_family_matters_nor_a_place_below_the_community(
    notif: ServiceProcs, n_stack: StackUnderTest, n_keys: Keys, http: httpx.AsyncClient
) -> None:
    family = await submit(http, notif, n_keys, "family.dispute", urgency="urgent")
    fume = await submit(http, notif, n_keys, "environment.cooking_fume", urgency="urgent")
    for case_id in (family, fume):
        await resolve_all(http, notif, n_keys, case_id)
    for case_id in (family, fume):
        await eventually(
            lambda c=case_id: notifier_took_resolution(n_stack, c), what="case.resolved consumed"
        )
    conn = await asyncpg.connect(n_stack.raw_database_url)
    try:  # rows stored before this rule (or before a rules change) are filtered when read
        for category in ("family.violence", "environment.cooking_fume"):
            await conn.execute(
                "INSERT INTO notifier.notices (case_id, category, location, tier, urgency, "
                "outcome, resolved_at) VALUES ($1, $2, $3, 'complex', 'urgent', 'resolved', now())",
                uuid4(), category, json.dumps(HERE),
            )  # fmt: skip
    finally:
        await conn.close()

    r = await http.get(f"{notif.url('notifier')}/v1/notices", params={"limit": 200})  # no key
    assert r.status_code == 200, r.text
    board = r.json()
    assert not [n for n in board if n["category"].startswith("family.")], board
    ops = await n_keys.make(Role.OPS)
    fume_case = await http.get(f"{notif.url('router')}/v1/cases/{fume}", headers=ops)
    assert any(n["case_ref"] == fume_case.json()["case_number"] for n in board)
    for notice in board:
        assert set(notice["location"]) <= {"district", "street", "community"}, notice
    assert {"district": "d01", "street": "s01", "community": "c01"} in [
        n["location"] for n in board
    ]
    only = await http.get(
        f"{notif.url('notifier')}/v1/notices", params={"category": "family.dispute"}
    )
    assert only.status_code == 200 and only.json() == []


async def test_an_elevator_cluster_reaches_the_community_and_street_offices_who_join_in(
    notif: ServiceProcs, n_keys: Keys, http: httpx.AsyncClient
) -> None:
    """Three elevator complaints in one compound within a month: the community office and
    the street office each get the early warning on their own endpoint, in Chinese, and the
    linked handling (物业-社区-维保 三方联动) dispatches the community office with the firm
    and the maintenance unit."""
    hepingli = HERE | {"street": "s02"}
    community, street = "d01-s02-c01-sq", "d01-s02-jd"
    async with WebhookReceiver(secrets.token_urlsafe(24)) as receiver:
        for owner in (community, street):
            await put_endpoint(http, notif, n_keys, owner, receiver.url, receiver.secret)
        for i in range(3):
            await submit(
                http, notif, n_keys, "property.elevator", location=hepingli,
                title=f"{i + 1}号楼电梯故障", petitioner={"phone": f"1370000{secrets.randbelow(10**4):04d}"},
            )  # fmt: skip

        async def warned() -> dict[str, dict[str, Any]] | None:
            got = {m["owner_id"]: m for m in receiver.accepted if m.get("event") == "alert.raised"
                   and m.get("rule_id") == "elevator-cluster"}  # fmt: skip
            return got if {community, street} <= set(got) else None

        warnings = await eventually(warned, timeout=30, what="the early warning at both offices")
        linked = warnings[community]["case_ids"]
    for owner in (community, street):
        text = warnings[owner]["message"]
        assert "预警" in text and "电梯故障停运" in text and "3 起" in text, text
        assert "联动" in text and "社区牵头" in text and "UTC" not in text
    assert receiver.rejected_signatures == 0 and len(linked) >= 3

    async def linked_dispatched() -> list[tuple[str, str]] | None:
        conn = await asyncpg.connect(notif.stack.raw_database_url)
        try:
            rows = await conn.fetch(
                "SELECT d.role, d.owner_id FROM router.dispatches d JOIN router.cases c "
                "USING (case_id) WHERE c.channel = 'early_warning' AND c.location::text LIKE '%s02%'"
            )
        finally:
            await conn.close()
        return sorted((x["role"], x["owner_id"]) for x in rows) or None

    owners = await eventually(linked_dispatched, timeout=30, what="the linked handling")
    assert ("co_handler", community) in owners and ("lead", "wy-jinxiu") in owners


async def test_a_channel_callback_hears_its_cases_status_changes_signed(
    notif: ServiceProcs, n_keys: Keys, http: httpx.AsyncClient
) -> None:
    channel = await n_keys.make(Role.CHANNEL, channel="hotline_12345")
    async with WebhookReceiver(secrets.token_urlsafe(24)) as receiver:
        url = f"{notif.url('notifier')}/v1/channel-callbacks/hotline_12345"
        body = {"url": receiver.url, "secret": receiver.secret}
        other = await n_keys.make(Role.CHANNEL, channel="wechat")
        assert (await http.put(url, json=body, headers=other)).status_code == 403
        assert (await http.put(url, json=body, headers=channel)).status_code == 200
        case_id = await submit(
            http, notif, n_keys, "environment.cooking_fume", channel="hotline_12345"
        )
        await resolve_lead(http, notif, n_keys, case_id)

        async def heard() -> list[str] | None:
            events = [m["event"] for m in receiver.accepted if m.get("case_id") == case_id]
            return events if "case.resolved" in events else None

        events = await eventually(heard, timeout=30, what="status callbacks")
    assert {"case.dispatched", "dispatch.acknowledged", "case.resolved"} <= set(events)
    assert receiver.rejected_signatures == 0


async def test_a_finally_failed_delivery_is_listed_and_replayed_from_the_command_line(
    notif: ServiceProcs, n_stack: StackUnderTest, n_keys: Keys, http: httpx.AsyncClient
) -> None:
    async with WebhookReceiver(secrets.token_urlsafe(24)) as receiver:
        # a wrong secret: the receiver answers 401, which is not retried
        await put_endpoint(http, notif, n_keys, "d01-cgw", receiver.url, "wrong-secret-0123456789")
        case_id = await submit(http, notif, n_keys, "animal.stray_dog")

        async def failed() -> dict[str, Any] | None:
            rows = await deliveries(http, notif, n_keys, status="failed")
            return next((d for d in rows if d["case_id"] == case_id), None)

        row = await eventually(failed, timeout=30, what="delivery failed")
        assert row["owner_id"] == "d01-cgw" and row["last_error"] == "HTTP 401"
        await put_endpoint(http, notif, n_keys, "d01-cgw", receiver.url, receiver.secret)
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "shared.cli.main", "deliveries", "replay", row["delivery_id"]],
            cwd=ROOT,
            env=n_stack.env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr

        async def delivered() -> bool:
            rows = await deliveries(http, notif, n_keys, case_id=case_id)
            return any(d["delivery_id"] == row["delivery_id"] and d["status"] == "delivered"
                       for d in rows)  # fmt: skip

        await eventually(delivered, timeout=30, what="replayed delivery accepted")
    assert any(m.get("case_id") == case_id for m in receiver.accepted)


async def test_the_petitioner_is_told_the_new_date_when_an_extension_is_approved(
    notif: ServiceProcs, n_keys: Keys, http: httpx.AsyncClient, sms: SmsGateway
) -> None:
    person = PERSON | {"phone": "13766665555", "id_number": None}
    case_id = await submit(http, notif, n_keys, "neighbour.dispute", petitioner=person)
    ops = await n_keys.make(Role.OPS)

    async def lead() -> dict[str, Any] | None:
        r = await http.get(f"{notif.url('router')}/v1/cases/{case_id}", headers=ops)
        ds = r.json().get("dispatches", []) if r.status_code == 200 else []
        return next((d for d in ds if d["role"] == "lead"), None)

    d = await eventually(lead, what="lead dispatch")
    dept = await n_keys.make(Role.DEPARTMENT, owner=d["owner_id"])
    base = f"{notif.url('router')}/v1/dispatches/{d['dispatch_id']}"
    assert (await http.post(f"{base}/acknowledge", headers=dept)).status_code == 200
    ask = {"working_days": 3, "reason": "双方需再次调解"}
    assert (await http.post(f"{base}/extension", json=ask, headers=dept)).status_code == 200
    street = await n_keys.make(Role.SUPERVISOR, owner="d01-s01-jd")
    decide = f"{notif.url('escalation')}/v1/extensions/{d['dispatch_id']}/decide"

    async def decided() -> dict[str, Any] | None:
        r = await http.post(decide, json={"approve": True}, headers=street)
        return dict(r.json()) if r.status_code == 200 else None

    await eventually(decided, what="extension decided")
    ops = await n_keys.make(Role.OPS)
    number = (await http.get(f"{notif.url('router')}/v1/cases/{case_id}", headers=ops)).json()[
        "case_number"
    ]

    async def texted() -> dict[str, Any] | None:
        return next((m for m in sms.accepted if number in m["text"] and "延期" in m["text"]), None)

    message = await eventually(texted, timeout=30, what="SMS with the new date")
    assert message["to"] == person["phone"] and "新的办结时限" in message["text"]


async def test_a_petitioner_with_an_email_address_is_told_the_result_by_email(
    notif: ServiceProcs,
    n_stack: StackUnderTest,
    n_keys: Keys,
    http: httpx.AsyncClient,
    mailbox: tuple[Mailbox, int],
) -> None:
    box, _ = mailbox
    person = {"name": "赵六", "id_number": "110101198805060012", "email": "zhao6@example.org"}
    case_id = await submit(http, notif, n_keys, "environment.cooking_fume", petitioner=person)
    await resolve_lead(http, notif, n_keys, case_id)

    async def mail() -> tuple[list[str], str] | None:
        return next(
            (m for m in box.messages if case_id[:8] in m[1] and m[0] == [person["email"]]), None
        )

    _rcpt, content = await eventually(mail, timeout=30, what="result email to the petitioner")
    assert "评价" in content
    for body in await outbox_bodies(n_stack):
        assert person["email"].encode() not in body and person["id_number"].encode() not in body


async def test_the_first_receiver_at_the_window_is_named_on_every_status_change(
    notif: ServiceProcs, n_keys: Keys, http: httpx.AsyncClient
) -> None:
    window = await n_keys.make(Role.CHANNEL, channel="walk_in")
    async with WebhookReceiver(secrets.token_urlsafe(24)) as receiver:
        url = f"{notif.url('notifier')}/v1/channel-callbacks/walk_in"
        body = {"url": receiver.url, "secret": receiver.secret}
        assert (await http.put(url, json=body, headers=window)).status_code == 200
        case_id = await submit(
            http, notif, n_keys, "environment.cooking_fume", channel="walk_in",
            received_by="窗口-李明",
        )  # fmt: skip
        await resolve_lead(http, notif, n_keys, case_id)

        async def heard() -> list[dict[str, Any]] | None:
            mine = [m for m in receiver.accepted if m.get("case_id") == case_id]
            return mine if any(m["event"] == "case.resolved" for m in mine) else None

        messages = await eventually(heard, timeout=30, what="status callbacks to the window")
    assert {m["event"] for m in messages} >= {
        "case.dispatched",
        "dispatch.acknowledged",
        "case.resolved",
    }
    assert all(m["tracker"] == "窗口-李明" for m in messages)
