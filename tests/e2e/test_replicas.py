"""Two replicas of every service on one machine do all the work once between them.

Two processes each of intake, router, escalation and notifier run against one database
and one vhost, with the test clock. Cases are posted to both intakes; both routers compete
on ``shaobao.router``; both escalation scanners claim due acknowledge clocks with
``SKIP LOCKED`` after ``shaobao clock advance``; both notifiers' workers deliver to one
webhook receiver. The test then checks the work was done exactly once (by the rows, by
what the receiver got, and by the relays' publish counts against the outboxes) and that
each replica did part of it (by its own ``/metrics``), so one idle replica, or two
replicas doing the same work, fails it.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.requests import Request
from starlette.responses import JSONResponse

from shared.auth.keys import Role
from shared.db.migrate import migrate_all_async
from shared.security.signing import DELIVERY_HEADER
from tests.e2e.conftest import Keys
from tests.e2e.test_first_case import register_all_endpoints
from tests.support.receiver import WebhookReceiver
from tests.support.services import ROOT, SERVICES, ServiceProcs
from tests.support.stack import StackUnderTest, create_stack, drop_stack
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

REPLICAS = 2
CASES = 200
ACKNOWLEDGED = CASES // 2  # lead dispatches acknowledged in time; the rest run out
XINGFU = {"district": "d01", "street": "s01", "community": "c01", "grid": "g01", "compound": "k01"}
COMMUNITY = "d01-s01-c01-sq"  # the lead of neighbour.* at 幸福小区


@pytest.fixture(scope="module")
async def rep_stack() -> AsyncIterator[StackUnderTest]:
    """Its own database and vhost: the moved clock and the load stay in this module."""
    s = await create_stack("rep")
    await migrate_all_async(s.database_url)
    yield s
    await drop_stack(s)


@pytest.fixture(scope="module")
async def replicas(
    rep_stack: StackUnderTest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ServiceProcs]:
    procs = ServiceProcs(
        stack=rep_stack,
        log_dir=Path(tmp_path_factory.mktemp("replica-logs")),
        env_extra={
            "SHAOBAO_TEST_CLOCK": "true",
            # Small scan batches, so two scanners interleave on a few hundred due rows
            # instead of one claiming them all in its first pass.
            "SHAOBAO_ESCALATION_SCAN_BATCH": "10",
            # A delivery's lease is 4 x this timeout: 8 s, so a slow receiver outlasts it.
            "SHAOBAO_WEBHOOK_TIMEOUT_SECONDS": "2",
        },
    )
    try:
        await procs.start_all(replicas=REPLICAS, timeout=180)  # eight processes start at once
        yield procs
    finally:
        procs.stop_all()


async def _rows(stack: StackUnderTest, sql: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(stack.raw_database_url)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def _count(stack: StackUnderTest, sql: str) -> int:
    return int((await _rows(stack, sql))[0][0])


async def _metric(http: httpx.AsyncClient, url: str, sample: str, **labels: str) -> float:
    """The sum of ``sample`` over the series of one process whose labels include ``labels``."""
    text = (await http.get(f"{url}/metrics")).text
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == sample and labels.items() <= s.labels.items()
    )


async def _per_replica(
    http: httpx.AsyncClient, procs: ServiceProcs, service: str, sample: str, **labels: str
) -> list[float]:
    return [
        await _metric(http, procs.url(service, r), sample, **labels) for r in range(1, REPLICAS + 1)
    ]


async def _post_cases(
    http: httpx.AsyncClient, procs: ServiceProcs, keys: Keys, count: int = CASES
) -> list[str]:
    """``count`` neighbour disputes, urgent (30-minute acknowledge clock), over both intakes."""
    channel = await keys.make(Role.CHANNEL, channel="grid_app")
    phone_base = 13900000000 + secrets.randbelow(10**7) * 10
    run = secrets.token_hex(4)
    gate = asyncio.Semaphore(8)

    async def post(i: int) -> str:
        body = {
            "external_id": f"rep-{run}-{i}",
            "category": "neighbour.dispute",
            "title": f"邻里纠纷第{i}号",
            "description": f"多副本测试：楼上楼下因噪音争执（第{i}件）。",
            "location": XINGFU,
            "urgency": "urgent",
            "petitioner": {"name": "李先生", "phone": str(phone_base + i)},
        }
        url = procs.url("intake", 1 + i % REPLICAS)
        async with gate:
            r = await http.post(f"{url}/v1/cases", json=body, headers=channel)
        assert r.status_code == 201, r.text
        return str(r.json()["case_id"])

    return list(await asyncio.gather(*(post(i) for i in range(count))))


def _recipient(message: dict[str, Any]) -> str:
    return str(message.get("owner_id") or message["dispatch"]["owner_id"])


async def _advance(stack: StackUnderTest, amount: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        "uv", "run", "--frozen", "shaobao", "clock", "advance", amount,
        cwd=ROOT,
        env=stack.env(SHAOBAO_TEST_CLOCK="true"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, err.decode()


async def _resent_only_after_a_failed_attempt(
    stack: StackUnderTest, receiver: WebhookReceiver
) -> None:
    """Webhooks are at least once: a post whose answer the sender never saw (its timeout
    passed on a loaded machine) is sent again, and the receiver dedupes by the delivery id.
    What must never happen is two replicas sending one delivery at once: a delivery the
    receiver accepted twice has a failed attempt on record before its last."""
    counts = Counter(receiver.delivery_ids)
    twice = [d for d, n in counts.items() if n > 1]
    if not twice:
        return
    rows = await _rows(
        stack,
        "SELECT delivery_id::text AS d, count(*) FILTER (WHERE status_code IS NULL"
        " OR status_code >= 300) AS failed FROM notifier.delivery_attempts"
        " WHERE delivery_id = ANY($1::uuid[]) GROUP BY delivery_id",
        twice,
    )
    failed = {r["d"]: r["failed"] for r in rows}
    sent_twice_at_once = [d for d in twice if failed.get(d, 0) < counts[d] - 1]
    assert not sent_twice_at_once, f"sent again without a failed attempt: {sent_twice_at_once[:5]}"


async def _all_delivered(stack: StackUnderTest, receiver: WebhookReceiver, what: str) -> None:
    """Every pending delivery sent and accepted: each delivered row reached the receiver
    (by delivery id), and any second post followed a failed attempt."""

    async def settled() -> bool:
        pending = await _count(
            stack, "SELECT count(*) FROM notifier.deliveries WHERE status = 'pending'"
        )
        delivered = await _count(
            stack, "SELECT count(*) FROM notifier.deliveries WHERE status = 'delivered'"
        )
        if pending == 0 and delivered == len(set(receiver.delivery_ids)):
            await _resent_only_after_a_failed_attempt(stack, receiver)
            return True
        held = await _rows(  # what is left, for the failure message
            stack,
            "SELECT owner_id, status, attempts, next_attempt_at, locked_until,"
            " (SELECT open_until FROM notifier.endpoints e WHERE e.owner_id = d.owner_id)"
            " AS open_until FROM notifier.deliveries d WHERE status = 'pending' LIMIT 5",
        )
        raise AssertionError(
            f"pending {pending}, delivered {delivered}, receiver accepted "
            f"{len(receiver.accepted)}; pending rows: {[dict(r) for r in held]}"
        )

    await eventually(settled, timeout=240, interval=0.5, what=what)


@pytest.mark.timeout(900)  # a few hundred cases through eight processes on two cores
async def test_two_replicas_of_every_service_share_the_work_and_do_each_piece_once(
    replicas: ServiceProcs, rep_stack: StackUnderTest
) -> None:
    stack, keys = rep_stack, Keys(rep_stack)
    admin = await keys.make(Role.ADMIN)
    community = await keys.make(Role.DEPARTMENT, owner=COMMUNITY)
    async with (
        WebhookReceiver(secrets.token_urlsafe(24)) as receiver,
        httpx.AsyncClient(timeout=30) as http,
    ):
        await register_all_endpoints(http, replicas, admin, receiver)
        case_ids = await _post_cases(http, replicas, keys)
        assert len(set(case_ids)) == CASES

        # -- routed: every case exactly one lead dispatch ------------------------------
        async def all_armed() -> bool:
            return (
                await _count(
                    stack,
                    "SELECT count(*) FROM escalation.deadlines WHERE kind = 'acknowledge'",
                )
                == 2 * CASES  # lead and co-handler
            )

        await eventually(all_armed, timeout=240, interval=0.5, what="acknowledge clocks armed")
        leads = await _rows(
            stack,
            "SELECT case_id, count(*) FILTER (WHERE role = 'lead') AS leads, count(*) AS n"
            " FROM router.dispatches GROUP BY case_id",
        )
        assert {str(r["case_id"]) for r in leads} == set(case_ids)
        assert all(r["leads"] == 1 and r["n"] == 2 for r in leads), "one lead + one co-handler"

        # -- delivered: every dispatch exactly one delivery, the receiver got each once ---
        await _all_delivered(stack, receiver, "dispatch deliveries sent")
        per_dispatch = await _rows(
            stack,
            "SELECT d.dispatch_id, count(n.delivery_id) AS n, min(n.attempts) AS lo,"
            " max(n.attempts) AS hi FROM router.dispatches d LEFT JOIN notifier.deliveries n"
            " ON n.dispatch_id = d.dispatch_id AND n.event_type = 'case.dispatched'"
            " GROUP BY d.dispatch_id",
        )
        assert len(per_dispatch) == 2 * CASES
        assert all(r["n"] == 1 and r["lo"] == r["hi"] == 1 for r in per_dispatch)
        got = Counter(m["dispatch"]["dispatch_id"] for m in receiver.accepted if "dispatch" in m)
        assert set(got) == {str(r["dispatch_id"]) for r in per_dispatch}
        assert set(got.values()) == {1}, "each dispatch reached the receiver exactly once"

        # -- half the leads acknowledge in time, through both routers ------------------
        lead_ids = [
            str(r["dispatch_id"])
            for r in await _rows(
                stack,
                "SELECT dispatch_id FROM router.dispatches WHERE role = 'lead'"
                " ORDER BY dispatch_id",
            )
        ]
        acked = lead_ids[:ACKNOWLEDGED]
        for i, dispatch_id in enumerate(acked):
            url = f"{replicas.url('router', 1 + i % REPLICAS)}/v1/dispatches/{dispatch_id}"
            r = await http.post(f"{url}/acknowledge", headers=community)
            assert r.status_code == 200, r.text

        async def disarmed() -> bool:
            n = await _count(
                stack,
                "SELECT count(*) FROM escalation.deadlines"
                " WHERE kind = 'acknowledge' AND state = 'disarmed'",
            )
            return n == ACKNOWLEDGED

        await eventually(disarmed, timeout=120, interval=0.5, what="acknowledged clocks disarmed")
        await _all_delivered(stack, receiver, "acknowledgement callbacks settled")

        # -- the 30-minute acknowledge clocks run out: both scanners fire them ---------
        await _advance(stack, "35m")
        due = 2 * CASES - ACKNOWLEDGED

        async def fired() -> bool:
            n = await _count(
                stack,
                "SELECT count(*) FROM escalation.deadlines"
                " WHERE kind = 'acknowledge' AND state = 'fired'",
            )
            return n == due

        await eventually(fired, timeout=240, interval=0.5, what="due acknowledge clocks fired")
        states = await _rows(
            stack,
            "SELECT dispatch_id::text AS d, state, version FROM escalation.deadlines"
            " WHERE kind = 'acknowledge'",
        )
        by_state = Counter(r["state"] for r in states)
        assert by_state == {"fired": due, "disarmed": ACKNOWLEDGED}, by_state
        assert {r["d"] for r in states if r["state"] == "disarmed"} == set(acked)

        # One ladder per case (issue 22): every case has a fired clock (its co-handler
        # never acknowledged; half the leads did not either), so every case escalates,
        # and each level of its ladder is told once, whichever scanner fired the clocks
        # (a case whose overdue co-handler is the community office itself is also taken
        # straight to the street: two levels, one row each).
        async def escalated() -> list[asyncpg.Record] | None:
            rows = await _rows(
                stack,
                "SELECT case_id::text AS c, level, count(*) AS n FROM escalation.escalations"
                " WHERE clock LIKE '%acknowledge%' GROUP BY case_id, level",
            )
            return rows if len({r["c"] for r in rows}) >= CASES else None

        steps = await eventually(escalated, timeout=60, what="every case escalated")
        assert {r["c"] for r in steps} == set(case_ids)
        assert all(r["n"] == 1 for r in steps), "a level of a case was told more than once"
        levels = len(steps)

        # -- the escalations reach the router's timeline and the receiver, once each ---
        async def on_timelines() -> bool:
            n = await _count(
                stack, "SELECT count(*) FROM router.timeline WHERE action = 'escalated'"
            )
            return n >= levels

        await eventually(on_timelines, timeout=120, interval=0.5, what="escalations on timelines")
        assert (
            await _count(stack, "SELECT count(*) FROM router.timeline WHERE action = 'escalated'")
            == levels
        )
        await _all_delivered(stack, receiver, "escalation deliveries sent")
        keyed = Counter((m["event_id"], _recipient(m)) for m in receiver.accepted)
        assert set(keyed.values()) == {1}, "the receiver got a message twice"
        escalation_msgs = [m for m in receiver.accepted if m["event"] == "case.escalated"]
        assert {m["case_id"] for m in escalation_msgs} == set(case_ids)
        attempts = await _rows(
            stack,
            "SELECT delivery_id, count(*) AS n FROM notifier.delivery_attempts"
            " GROUP BY delivery_id HAVING count(*) > 1",
        )
        assert attempts == [], "a delivery was sent more than once"
        assert receiver.rejected_signatures == 0

        # -- every outbox row published once, by the relays of both replicas -----------
        for service in SERVICES:
            outbox = {
                r["routing_key"]: r["n"]
                for r in await _rows(
                    stack,
                    f"SELECT routing_key, count(*) AS n FROM {service}.outbox"
                    " WHERE published_at IS NOT NULL GROUP BY routing_key",
                )
            }
            unsent = await _count(
                stack, f"SELECT count(*) FROM {service}.outbox WHERE published_at IS NULL"
            )
            assert unsent == 0, f"{service}: outbox rows left unsent"
            for routing_key, n in outbox.items():
                published = await _per_replica(
                    http, replicas, service, "shaobao_events_published_total", type=routing_key
                )
                assert sum(published) == n, (service, routing_key, published, n)
            duplicates = await _per_replica(
                http, replicas, service, "shaobao_events_consumed_total", outcome="duplicate"
            )
            assert sum(duplicates) == 0, f"{service}: an event reached a consumer twice"

        # -- and each replica did part of every kind of work -----------------------------
        shares = {
            "intake publishes case.received": await _per_replica(
                http, replicas, "intake", "shaobao_events_published_total", type="case.received"
            ),
            "router routes case.received": await _per_replica(
                http, replicas, "router", "shaobao_events_consumed_total",
                type="case.received", outcome="applied",
            ),
            "escalation arms clocks": await _per_replica(
                http, replicas, "escalation", "shaobao_events_consumed_total",
                type="case.dispatched", outcome="applied",
            ),
            # a case's first overdue clock escalates it, the others join that escalation
            "escalation fires clocks": [
                a + b for a, b in zip(
                    await _per_replica(http, replicas, "escalation",
                                       "shaobao_deadlines_fired_total", outcome="escalated"),
                    await _per_replica(http, replicas, "escalation",
                                       "shaobao_deadlines_fired_total", outcome="joined"),
                    strict=True,
                )
            ],
            "notifier makes deliveries": await _per_replica(
                http, replicas, "notifier", "shaobao_events_consumed_total",
                type="case.dispatched", outcome="applied",
            ),
            "notifier sends deliveries": await _per_replica(
                http, replicas, "notifier", "shaobao_deliveries_total", outcome="delivered"
            ),
        }  # fmt: skip
    expected = {
        "intake publishes case.received": CASES,
        "router routes case.received": CASES,
        "escalation arms clocks": CASES,
        "escalation fires clocks": due,
        "notifier makes deliveries": CASES,
        "notifier sends deliveries": len(receiver.accepted),
    }
    for work, counts in shares.items():
        assert sum(counts) == expected[work], (work, counts)
        assert all(c > 0 for c in counts), f"a replica did none of: {work} {counts}"
    print({work: counts for work, counts in shares.items()})  # the split, in the -s output


class SlowReceiver(WebhookReceiver):
    """Counts each webhook by delivery id as it arrives, then answers after ``delay``
    seconds (the one marked ``blocker`` after ``blocker_delay``, announcing it)."""

    def __init__(self, secret: str, delay: float, blocker_delay: float) -> None:
        super().__init__(secret)
        self.delay, self.blocker_delay = delay, blocker_delay
        self.blocker_arrived = asyncio.Event()
        self.by_delivery: Counter[str] = Counter()

    async def _handle(self, request: Request) -> JSONResponse:
        self.by_delivery[request.headers.get(DELIVERY_HEADER, "")] += 1
        if (await request.json()).get("blocker"):
            self.blocker_arrived.set()
            await asyncio.sleep(self.blocker_delay)
        else:
            await asyncio.sleep(self.delay)
        return await super()._handle(request)


async def _stage_deliveries(stack: StackUnderTest, owner: str, bodies: list[bytes]) -> list[str]:
    """Pending deliveries to ``owner``, all due, committed together (as a consumer would)."""
    conn = await asyncpg.connect(stack.raw_database_url)
    try:
        rows = await conn.fetch(
            "INSERT INTO notifier.deliveries (delivery_id, event_id, event_type, owner_id,"
            " body, status, attempts, next_attempt_at, created_at)"
            " SELECT gen_random_uuid(), gen_random_uuid(), 'test.backlog', $1, b, 'pending', 0,"
            " timestamptz '2000-01-01', now() + make_interval(secs => i / 1000.0)"
            " FROM unnest($2::bytea[]) WITH ORDINALITY AS t(b, i) RETURNING delivery_id",
            owner,
            bodies,
        )
    finally:
        await conn.close()
    return [str(r["delivery_id"]) for r in rows]


@pytest.mark.timeout(300)
async def test_a_backlog_for_a_slow_receiver_is_sent_once_by_two_notifiers(
    replicas: ServiceProcs, rep_stack: StackUnderTest
) -> None:
    """One notifier is busy with a slow delivery while 30 more for one owner become due;
    the other claims all 30 and sends them in order (0.5 s each, 15 s in all, longer than
    the 8 s lease). Each must still reach the receiver once: a worker that sent rows past
    their lease let the other replica claim and send them too (19 of 30 twice with the
    worker of 53d6870; de985ee releases a row whose lease would lapse before its turn)."""
    admin = await Keys(rep_stack).make(Role.ADMIN)
    owner = "d01-s01-c01-sq"
    async with (
        SlowReceiver(secrets.token_urlsafe(24), delay=0.5, blocker_delay=1.5) as receiver,
        httpx.AsyncClient(timeout=30) as http,
    ):
        for o in (owner, "d01-s01-jd"):  # the blocker goes to another owner: not in order
            r = await http.put(
                f"{replicas.url('notifier', 2)}/v1/endpoints/{o}",
                headers=admin,
                json={"url": receiver.url, "secret": receiver.secret},
            )
            assert r.status_code == 200, r.text
        await _stage_deliveries(rep_stack, "d01-s01-jd", [b'{"blocker": true}'])
        await asyncio.wait_for(receiver.blocker_arrived.wait(), timeout=60)
        backlog = await _stage_deliveries(
            rep_stack, owner, [f'{{"n": {i}}}'.encode() for i in range(30)]
        )

        async def sent() -> bool:
            in_list = ",".join(f"'{d}'" for d in backlog)
            return await _count(
                rep_stack,
                "SELECT count(*) FROM notifier.deliveries"
                f" WHERE delivery_id IN ({in_list}) AND status = 'delivered'",
            ) == len(backlog)

        await eventually(sent, timeout=120, interval=0.5, what="the backlog sent")
    resent = {d: receiver.by_delivery[d] for d in backlog if receiver.by_delivery[d] != 1}
    assert resent == {}, f"{len(resent)} of {len(backlog)} deliveries sent more than once"


def test_replicas_are_named_after_their_service_and_numbered_from_two() -> None:
    procs = ServiceProcs(stack=StackUnderTest("x", "x"), log_dir=Path("/tmp"))
    procs.ports.update({"router": 1, "router-2": 2, "router-10": 3, "intake": 4})
    assert procs.names("router") == ["router", "router-2", "router-10"]
    assert procs.url("router") == "http://127.0.0.1:1"
    assert procs.url("router", 2) == "http://127.0.0.1:2"
    with pytest.raises(ValueError):
        procs.url("routr")
