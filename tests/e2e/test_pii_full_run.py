"""No raw personal data, webhook secret or API key leaks out of a full run.

A full run on its own stack (SMS gateway, SMTP server, webhook and callback receivers):
petitioners with a name, phone, ID number and email submit through four channels (one
more number links to a case as a duplicate, one petitioner gives only an ID number); each
case is dispatched, acknowledged, progressed and resolved, the department reveals one
petitioner's contact (audited), the channel rates the result, the petitioner is told by SMS
or email and the owners and the channel hear by signed webhook; error answers are
provoked with bodies full of personal data. Then every service log, every message on the
bus (a private queue bound with ``#`` before the run), every outbox table, the notifier's
delivery log and its errors, the audit log, each service's ``/metrics`` and every error
answer are scanned for the raw name, phone, ID number and email, and the logs, bus, outboxes
and metrics for the webhook secrets and API keys.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import httpx
import pytest
from aiosmtpd.controller import Controller

from shared.auth.keys import Role
from shared.db.migrate import migrate_all_async
from tests.e2e.conftest import Keys
from tests.e2e.intake_helpers import XINGFU, case, id_number
from tests.e2e.test_notifier_delivery import Mailbox, SmsGateway
from tests.support.receiver import WebhookReceiver
from tests.support.services import SERVICES, ServiceProcs, free_port, logs_text
from tests.support.stack import StackUnderTest, create_stack, drop_stack
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e
RARE = "瞿禤鞠阙燕郗仉亓闾逯訾璩"  # uncommon surname characters: a name that appears nowhere else


def unique_name() -> str:
    return "".join(secrets.choice(RARE) for _ in range(3)) + "某"


def unique_phone() -> str:
    return f"13{secrets.randbelow(10):d}{secrets.randbelow(10**8):08d}"


@dataclass(frozen=True)
class Person:
    channel: str
    name: str | None
    phone: str | None  # 11 digits; submitted as "+86 <phone>"
    id_number: str | None
    email: str | None

    def body(self) -> dict[str, Any]:
        given = {
            "name": self.name,
            "phone": f"+86 {self.phone}" if self.phone else None,
            "id_number": self.id_number,
            "email": self.email,
        }
        return {k: v for k, v in given.items() if v}

    def raw(self) -> list[str]:
        """Each value as given, and as an ASCII-escaping JSON encoder would write it."""
        values = [self.name, self.phone, self.id_number, self.email]
        if self.phone:
            values.append(f"+86 {self.phone}")
        given = [v for v in values if v]
        return list(dict.fromkeys(given + [json.dumps(v)[1:-1] for v in given]))


def people() -> list[Person]:
    def email() -> str:
        return f"pii-{secrets.token_hex(5)}@example.org"

    return [
        Person("hotline_12345", unique_name(), unique_phone(), id_number(), None),
        Person("wechat", unique_name(), None, id_number(), email()),
        Person("grid_app", unique_name(), unique_phone(), None, None),
        Person("walk_in", None, None, id_number(), None),
    ]


@pytest.fixture(scope="module")
async def p_stack() -> AsyncIterator[StackUnderTest]:
    s = await create_stack("pii")
    await migrate_all_async(s.database_url)
    yield s
    await drop_stack(s)


@pytest.fixture(scope="module")
def p_keys(p_stack: StackUnderTest) -> Keys:
    return Keys(p_stack)


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
async def service_key(p_keys: Keys) -> str:
    return (await p_keys.make(Role.SERVICE))["Authorization"].removeprefix("Bearer ")


@pytest.fixture(scope="module")
async def procs(
    p_stack: StackUnderTest,
    service_key: str,
    mailbox: tuple[Mailbox, int],
    sms: SmsGateway,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[ServiceProcs]:
    procs = ServiceProcs(
        stack=p_stack,
        log_dir=Path(tmp_path_factory.mktemp("pii-logs")),
        env_extra={
            "SHAOBAO_LOG_LEVEL": "DEBUG",  # the most a log can say
            "SHAOBAO_WEBHOOK_BACKOFF_BASE_SECONDS": "0.1",
            "SHAOBAO_NOTIFIER_SMTP_PORT": str(mailbox[1]),
            "SHAOBAO_NOTIFIER_SMS_GATEWAY_URL": sms.url,
            "SHAOBAO_NOTIFIER_INTAKE_KEY": service_key,
            "SHAOBAO_NOTIFIER_QUIET_START": "00:00",
            "SHAOBAO_NOTIFIER_QUIET_END": "00:00",
        },
    )
    procs.ports["intake"] = free_port()
    procs.env_extra["SHAOBAO_NOTIFIER_INTAKE_URL"] = f"http://127.0.0.1:{procs.ports['intake']}"
    await procs.start_all()
    yield procs
    procs.stop_all()


class Run:
    """The requests of the run, with every key made and every error answer kept."""

    def __init__(self, procs: ServiceProcs, keys: Keys, http: httpx.AsyncClient) -> None:
        self.procs, self.keys, self.http = procs, keys, http
        self.raw_keys: list[str] = []
        self.errors: list[str] = []

    async def key(self, role: Role, **scope: str) -> dict[str, str]:
        headers = await self.keys.make(role, **scope)
        self.raw_keys.append(headers["Authorization"].removeprefix("Bearer "))
        return headers

    async def call(
        self, method: str, service: str, path: str, headers: dict[str, str], **kw: Any
    ) -> httpx.Response:
        r = await self.http.request(method, self.procs.url(service) + path, headers=headers, **kw)
        if r.status_code >= 400:
            self.errors.append(f"{method} {service}{path} → {r.status_code} {r.text}")
        return r

    async def lead(self, case_id: str, ops: dict[str, str]) -> dict[str, Any]:
        async def found() -> dict[str, Any] | None:
            r = await self.http.get(f"{self.procs.url('router')}/v1/cases/{case_id}", headers=ops)
            ds = r.json().get("dispatches", []) if r.status_code == 200 else []
            return next((d for d in ds if d["role"] == "lead"), None)

        return await eventually(found, what=f"{case_id} dispatched")


async def provoke_errors(run: Run, person: Person, channel: dict[str, str]) -> None:
    """Error answers to bodies carrying the person's data: none may echo it."""
    who = person.body() | {"nickname": person.name or "x"}
    bad = case("public.streetlight", "路灯不亮", XINGFU, petitioner=who)
    assert (await run.call("POST", "intake", "/v1/cases", channel, json=bad)).status_code == 422
    wrong = person.body() | {"phone": f"{person.phone}#", "id_number": f"{person.id_number}?"}
    bad = case("public.streetlight", "路灯不亮", XINGFU, petitioner=wrong)
    assert (await run.call("POST", "intake", "/v1/cases", channel, json=bad)).status_code == 422
    mismatch = case("public.streetlight", "路灯不亮", XINGFU, petitioner=person.body())
    mismatch["channel"] = "open311"  # not the key's channel
    r = await run.call("POST", "intake", "/v1/cases", channel, json=mismatch)
    assert r.status_code == 403
    broken = f'{{"petitioner": {{"name": "{person.name}", "phone": "{person.phone}"'.encode()
    r = await run.call(
        "POST", "intake", "/v1/cases", channel | {"Content-Type": "application/json"},
        content=broken,
    )  # fmt: skip
    assert r.status_code == 422


async def reveal(run: Run, path: str, dept: dict[str, str]) -> dict[str, Any]:
    """The department's reveal, once intake knows the department holds the case."""

    async def revealed() -> dict[str, Any] | None:
        r = await run.call("GET", "intake", path, dept, params={"reveal": "true"})
        return dict(r.json()) if r.status_code == 200 else None

    return await eventually(revealed, what="the petitioner revealed")


async def test_no_personal_data_secret_or_key_leaves_a_full_run(
    procs: ServiceProcs,
    p_stack: StackUnderTest,
    p_keys: Keys,
    service_key: str,
    sms: SmsGateway,
    mailbox: tuple[Mailbox, int],
) -> None:
    everyone = people()
    connection = await aio_pika.connect(p_stack.amqp_url)
    channel_mq = await connection.channel()
    probe = await channel_mq.declare_queue(exclusive=True, auto_delete=True)
    await probe.bind("shaobao.events", routing_key="#")
    bodies: list[bytes] = []
    try:
        async with (
            httpx.AsyncClient(timeout=15) as http,
            WebhookReceiver(secrets.token_urlsafe(24)) as owners_hook,
            WebhookReceiver(secrets.token_urlsafe(24)) as channel_hook,
        ):
            run = Run(procs, p_keys, http)
            run.raw_keys.append(service_key)
            ops, admin = await run.key(Role.OPS), await run.key(Role.ADMIN)
            owners = (await run.call("GET", "router", "/v1/owners", ops)).json()
            for o in owners:  # by name, so each delivery resolves and checks the host
                hook = {"url": owners_hook.url.replace("127.0.0.1", "localhost"),
                        "secret": owners_hook.secret}  # fmt: skip
                r = await run.call("PUT", "notifier", f"/v1/endpoints/{o['id']}", admin, json=hook)
                assert r.status_code == 200, r.text
            hotline = await run.key(Role.CHANNEL, channel="hotline_12345")
            callback = {"url": channel_hook.url, "secret": channel_hook.secret}
            r = await run.call(
                "PUT", "notifier", "/v1/channel-callbacks/hotline_12345", hotline, json=callback
            )
            assert r.status_code == 200, r.text

            case_ids: list[str] = []
            refs: list[str] = []
            for person in everyone:
                key = await run.key(Role.CHANNEL, channel=person.channel)
                ref = f"pii-{secrets.token_hex(4)}"
                body = case(
                    "public.streetlight", f"路灯不亮 {secrets.token_hex(3)}", XINGFU,
                    petitioner=person.body(), external_id=ref,
                )  # fmt: skip
                r = await run.call("POST", "intake", "/v1/cases", key, json=body)
                assert r.status_code == 201, r.text
                case_ids.append(r.json()["case_id"])
                refs.append(ref)
                await provoke_errors(run, person, key)
            first = everyone[0]
            grid = await run.key(Role.CHANNEL, channel="grid_app")
            linked = case(
                "public.streetlight", "同一路灯不亮", XINGFU, petitioner=first.body(),
                related_refs=[{"channel": "hotline_12345", "ref": refs[0]}],
            )  # fmt: skip
            r = await run.call("POST", "intake", "/v1/cases", grid, json=linked)
            assert r.status_code == 201 and r.json()["duplicate_of"] == case_ids[0], r.text

            for person, case_id in zip(everyone, case_ids, strict=True):
                d = await run.lead(case_id, ops)
                dept = await run.key(Role.DEPARTMENT, owner=d["owner_id"])
                base = f"/v1/dispatches/{d['dispatch_id']}"
                if person is first:
                    other = await run.key(Role.DEPARTMENT, owner="d01-s02-pcs")
                    path = f"/v1/cases/{case_id}/petitioner"
                    assert (await run.call("GET", "intake", path, other)).status_code == 404

                    view = await reveal(run, path, dept)
                    assert view["phone"] == f"+86 {first.phone}" and view["name"] == first.name
                for action, payload in (
                    ("acknowledge", None),
                    ("progress", {"note": "已联系供电公司", "minutes_spent": 20}),
                    ("resolve", {"outcome": "resolved", "summary": "已更换灯泡"}),
                ):
                    r = await run.call("POST", "router", f"{base}/{action}", dept, json=payload)
                    assert r.status_code == 200, r.text
                again = await run.call("POST", "router", f"{base}/acknowledge", dept)
                assert again.status_code == 409

            for person, case_id in zip(everyone, case_ids, strict=True):
                key = await run.key(Role.CHANNEL, channel=person.channel)
                path = f"/v1/cases/{case_id}/feedback"

                async def rated(path: str = path, key: dict[str, str] = key) -> bool:
                    r = await run.call("POST", "intake", path, key, json={"rating": "satisfied"})
                    return r.status_code == 202

                await eventually(rated, what="feedback taken")
                twice = await run.call("POST", "intake", path, key, json={"rating": "satisfied"})
                assert twice.status_code == 409

            async def told() -> bool:
                texted = {m["to"] for m in sms.accepted}
                mailed = {to for rcpts, _ in mailbox[0].messages for to in rcpts}
                return {everyone[0].phone, everyone[2].phone} <= {
                    t.removeprefix("+86").strip() for t in texted
                } and str(everyone[1].email) in mailed

            await eventually(told, timeout=45, what="petitioners told by SMS and email")

            async def heard() -> bool:
                resolved = {m.get("case_id") for m in owners_hook.accepted}
                called = {m.get("case_id") for m in channel_hook.accepted}
                return set(case_ids) <= resolved and case_ids[0] in called

            await eventually(heard, timeout=45, what="owners and the channel heard")
            metrics = [(await http.get(procs.url(s) + "/metrics")).text for s in SERVICES]
            secrets_used = [owners_hook.secret, channel_hook.secret, *run.raw_keys]
            secrets_used += [k.split("_")[-1] for k in run.raw_keys]  # the secret part alone
        await asyncio.sleep(0)  # let the last consumer acks settle before draining the probe
        while (message := await probe.get(no_ack=True, fail=False, timeout=2)) is not None:
            bodies.append(message.body)
    finally:
        await connection.close()

    stored = await stored_texts(p_stack)
    personal = [v for p in everyone for v in p.raw()]
    places = {
        "service logs": logs_text(procs),
        "bus messages": "\n".join(b.decode() for b in bodies),
        "outbox tables": stored["outbox"],
        "delivery log and its errors": stored["deliveries"],
        "audit log": stored["audit"],
        "metrics": "\n".join(metrics),
        "error answers": "\n".join(run.errors),
    }
    assert len(bodies) > 20 and len(run.errors) >= 20
    for what in ("bus messages", "outbox tables", "delivery log and its errors"):
        assert case_ids[0] in places[what], f"nothing about the run in the {what}"
    # services log little on the happy path; the contact reads and the failed message to
    # the petitioner with no contact (ID number only) are there
    assert "/contact" in places["service logs"] and "delivery_failed" in places["service logs"]
    assert "shaobao_http_requests_total" in places["metrics"]
    assert "petitioner.reveal" in places["audit log"]
    found = [
        f"{what}: {value!r}" for what, text in places.items() for value in personal if value in text
    ]
    found += [
        f"{what}: a secret or key ({value[:6]}…)"
        for what, text in places.items()
        if what != "error answers"
        for value in secrets_used
        if value in text
    ]
    assert not found, "\n".join(found)


async def stored_texts(stack: StackUnderTest) -> dict[str, str]:
    conn = await asyncpg.connect(stack.raw_database_url)
    try:
        outbox = []
        for schema in SERVICES:
            outbox += [r["body"] for r in await conn.fetch(f"SELECT body FROM {schema}.outbox")]
        deliveries = await conn.fetch(
            "SELECT body AS b, coalesce(last_error, '') AS e FROM notifier.deliveries"
        )
        attempts = await conn.fetch(
            "SELECT coalesce(error, '') AS e FROM notifier.delivery_attempts"
        )
        audit = await conn.fetch("SELECT actor, action, detail::text AS d FROM platform.audit_log")
    finally:
        await conn.close()
    return {
        "outbox": "\n".join(bytes(b).decode() for b in outbox),
        "deliveries": "\n".join(
            [f"{bytes(r['b']).decode()} {r['e']}" for r in deliveries] + [r["e"] for r in attempts]
        ),
        "audit": "\n".join(f"{r['actor']} {r['action']} {r['d']}" for r in audit),
    }
