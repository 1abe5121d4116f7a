"""The fault suite's harness: its own servers, a channel-like load, and the audit.

- :class:`OwnServers`: PostgreSQL and RabbitMQ of the suite's own (``deploy/stack.sh`` with a
  state dir and ports of their own), so stopping them never touches the shared dev servers.
- :class:`Load`: cases posted to intake at a steady rate, each retried with its own
  ``external_id`` and ``Idempotency-Key`` on connection errors, timeouts, 5xx and 503/429
  (honouring ``Retry-After``), as a channel does. Its ``accepted`` are intake's 2xx answers.
- :func:`audit`: what became of the accepted cases in every service's tables: lost and
  duplicated effects, per case.
- :class:`ReadinessWatch`: every service's ``/readyz`` sampled through a fault.
- :class:`Receiver`: a signed-webhook receiver that can hang (accept, read, never answer).
- :class:`ProcStats`: open fds, threads, RSS and TCP connections of one process.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import httpx
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shared.domain.owners import OwnerDirectory
from shared.domain.routing import Location, RuleSet, route
from shared.messaging import wire
from shared.security.signing import DELIVERY_HEADER, verify
from shared.settings import Settings
from tests.support.services import ROOT, SERVICES, free_port
from tests.support.stack import Servers, StackUnderTest

# Own servers. The ports are below the kernel's ephemeral range (32768-60999): a port in
# that range can be held by some client's socket at the moment RabbitMQ binds it again
# after a stop (seen: eaddrinuse on 56672 while a benchmark churned connections).
STATE_DIR = os.environ.get("SHAOBAO_FAULTS_STATE_DIR", "/var/lib/shaobao-faults")
PG_PORT, AMQP_PORT, MGMT_PORT, PROM_PORT, DIST_PORT = 26432, 26672, 26673, 26692, 26679
NODE = "shaobao-faults@localhost"
SHARED_DEV_PORTS = {55432, 55672, 55673, 55692, 55679}

LOCATION = {
    "district": "d01",
    "street": "s01",
    "community": "c01",
    "grid": "g01",
    "compound": "k01",
}
# Rotated per case: one, two and three owners per case, so every service sees a mix.
CATEGORIES = (
    "property.elevator",
    "environment.cooking_fume",
    "fire.ebike_charging",
    "animal.stray_dog",
)


class OwnServers:
    """The suite's PostgreSQL and RabbitMQ, driven through ``deploy/stack.sh``."""

    def __init__(self) -> None:
        assert not {PG_PORT, AMQP_PORT, MGMT_PORT, PROM_PORT, DIST_PORT} & SHARED_DEV_PORTS
        assert STATE_DIR.rstrip("/") != "/var/lib/shaobao"
        self.env = {
            "SHAOBAO_STATE_DIR": STATE_DIR,
            "SHAOBAO_PG_PORT": str(PG_PORT),
            "SHAOBAO_AMQP_PORT": str(AMQP_PORT),
            "SHAOBAO_MQ_MGMT_PORT": str(MGMT_PORT),
            "SHAOBAO_MQ_PROM_PORT": str(PROM_PORT),
            "SHAOBAO_MQ_DIST_PORT": str(DIST_PORT),
            "SHAOBAO_MQ_NODE": NODE,
        }
        self.servers = Servers(
            pg_admin=f"postgresql://shaobao:shaobao@127.0.0.1:{PG_PORT}/shaobao",
            amqp_base=f"amqp://shaobao:shaobao@127.0.0.1:{AMQP_PORT}",
            mgmt=f"http://127.0.0.1:{MGMT_PORT}",
        )

    async def run(self, *args: str, timeout: float = 180) -> str:
        """``bash deploy/stack.sh ARGS`` against our servers; the event loop keeps running."""
        proc = await asyncio.create_subprocess_exec(
            "bash", str(ROOT / "deploy" / "stack.sh"), *args,
            env=os.environ | self.env, cwd=ROOT,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise
        text = out.decode(errors="replace")
        if proc.returncode != 0:
            raise RuntimeError(f"stack.sh {' '.join(args)} failed ({proc.returncode}):\n{text}")
        return text

    async def restore(self, stack: StackUnderTest) -> None:
        """Start whichever server a failed fault left stopped (``stack.sh mq-start`` costs
        a dozen rabbitmqctl calls, so only when the broker does not answer)."""
        try:
            conn = await asyncpg.connect(self.servers.pg_admin, timeout=5)
        except (OSError, asyncpg.PostgresError, TimeoutError):
            await self.run("pg-start")
        else:
            await conn.close()
        if not await broker_answers(stack):
            await self.run("mq-start")


# ---------------------------------------------------------------------------- the load


@dataclass
class Submission:
    external_id: str
    category: str
    tries: int = 0
    case_id: str | None = None
    status: int | None = None  # the 2xx that accepted it
    gave_up: str | None = None
    first_sent: float | None = None  # time.monotonic() of the first try
    accepted_at: float | None = None  # time.monotonic() of the 2xx


@dataclass
class Load:
    """Cases posted at ``rate`` per second until :meth:`stop`; each retried until answered."""

    intake_url: str
    headers: dict[str, str]
    tag: str
    rate: float = 12.0
    give_up_after: float = 120.0
    request_timeout: float = 30.0  # a channel gateway's usual patience
    submissions: list[Submission] = field(default_factory=list)
    answers: Counter[str] = field(default_factory=Counter)  # status code or error class
    slowest_answer: float = 0.0
    missing_retry_after: int = 0
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _runner: asyncio.Task[None] | None = None
    _http: httpx.AsyncClient | None = None

    @property
    def accepted(self) -> dict[str, str]:
        """case_id → category, for every submission intake answered 2xx."""
        return {s.case_id: s.category for s in self.submissions if s.case_id}

    def start(self) -> None:
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=16)
        self._http = httpx.AsyncClient(timeout=self.request_timeout, limits=limits)
        self._runner = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop posting new cases; wait for the ones in flight to be answered (or given up)."""
        assert self._runner is not None and self._http is not None
        self._stopping.set()
        await self._runner
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=self.give_up_after + 30)
        await self._http.aclose()

    async def _run(self) -> None:
        started = time.monotonic()
        i = 0
        while not self._stopping.is_set():
            sub = Submission(f"{self.tag}-{i}", CATEGORIES[i % len(CATEGORIES)])
            self.submissions.append(sub)
            task = asyncio.create_task(self._submit(sub))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            i += 1
            delay = started + i / self.rate - time.monotonic()
            try:
                await asyncio.wait_for(self._stopping.wait(), max(delay, 0))
            except TimeoutError:
                pass

    async def _submit(self, sub: Submission) -> None:
        try:
            await self._post_until_answered(sub)
        except Exception as exc:  # a bug of the harness: shown, never silently dropped
            self.answers[f"harness {type(exc).__name__}"] += 1
            sub.gave_up = f"harness error: {exc!r}"

    async def _post_until_answered(self, sub: Submission) -> None:
        assert self._http is not None
        body = {
            "external_id": sub.external_id,
            "category": sub.category,
            "title": f"故障演练工单 {sub.external_id}",
            "description": "故障演练：持续负载下的一件诉求。",
            "location": LOCATION,
            "urgency": "urgent",
            # a fresh petitioner per case, so no two load cases are linked as repeats
            "petitioner": {"name": "李先生", "phone": f"138{secrets.randbelow(10**8):08d}"},
        }
        headers = self.headers | {"Idempotency-Key": f"idem-{sub.external_id}"}
        deadline = time.monotonic() + self.give_up_after
        backoff = 0.2
        sub.first_sent = time.monotonic()
        while time.monotonic() < deadline:
            sub.tries += 1
            sent = time.monotonic()
            wait = backoff
            try:
                r = await self._http.post(f"{self.intake_url}/v1/cases", json=body, headers=headers)
            except httpx.HTTPError as exc:  # refused, reset, timed out: the outcome is unknown
                self.answers[type(exc).__name__] += 1
            else:
                self.slowest_answer = max(self.slowest_answer, time.monotonic() - sent)
                self.answers[str(r.status_code)] += 1
                if r.is_success:
                    sub.case_id, sub.status = str(r.json()["case_id"]), r.status_code
                    sub.accepted_at = time.monotonic()
                    return
                if r.status_code in (429, 503):
                    given = r.headers.get("retry-after")
                    if given is None:
                        self.missing_retry_after += 1
                    wait = float(given) if given and given.isdigit() else backoff
                elif r.status_code < 500:
                    sub.gave_up = f"HTTP {r.status_code}: {r.text[:200]}"
                    return
            await asyncio.sleep(min(wait, 5.0) * (0.75 + 0.5 * secrets.randbelow(1000) / 1000))
            backoff = min(backoff * 2, 2.0)
        sub.gave_up = "no 2xx answer before giving up"


# ---------------------------------------------------------------------------- the audit


class Routes:
    """Which owners a load case of each category must be dispatched to (the live rules)."""

    def __init__(self, settings: Settings) -> None:
        rules, owners = RuleSet.load(settings.rules_file), OwnerDirectory.load(settings.owners_file)
        self.owners: dict[str, frozenset[str]] = {}
        for category in CATEGORIES:
            d = route(rules, owners, category=category, location=Location(**LOCATION))
            assert d.lead_owner_id is not None, category
            self.owners[category] = frozenset([d.lead_owner_id, *d.co_handler_ids])


@dataclass
class Audit:
    accepted: int
    lost: dict[str, list[str]]  # what is missing → case ids
    duplicated: dict[str, list[str]]  # which effect is doubled → case ids
    undelivered: int = 0  # deliveries still pending (not lost: the backlog)
    receiver_resends: int = 0  # a delivery the receiver got more than once (at least once)

    @property
    def lost_cases(self) -> set[str]:
        return {c for ids in self.lost.values() for c in ids}

    @property
    def duplicated_cases(self) -> set[str]:
        return {c for ids in self.duplicated.values() for c in ids}

    @property
    def complete(self) -> bool:
        return not self.lost and not self.duplicated

    def summary(self) -> str:
        lost = {k: len(v) for k, v in self.lost.items()}
        dup = {k: len(v) for k, v in self.duplicated.items()}
        return f"accepted {self.accepted}, lost {lost}, duplicated {dup}"


async def audit(
    conn: asyncpg.Connection, accepted: dict[str, str], routes: Routes, received: Counter[str]
) -> Audit:
    """Every accepted case: in intake once, in the router once, one dispatch per expected
    owner, one ``case.dispatched`` event, the armed clocks of each dispatch in escalation
    (acknowledge and resolve, plus progress when the dispatch has a progress deadline, at the
    router's due times), one delivery per dispatch per endpoint, delivered and received, and
    one "delivered" timeline row per dispatch (the router applied ``dispatch.delivered`` once).
    """
    ids = list(accepted)
    lost: dict[str, list[str]] = {}
    dup: dict[str, list[str]] = {}

    def miss(what: str, case_id: Any) -> None:
        lost.setdefault(what, []).append(str(case_id))

    def twice(what: str, case_id: Any) -> None:
        dup.setdefault(what, []).append(str(case_id))

    q = conn.fetch
    intake = {r["case_id"]: r["n"] for r in await q(
        "SELECT i.case_id::text, (SELECT count(*) FROM intake.cases j WHERE j.channel = i.channel"
        " AND j.external_id = i.external_id) AS n FROM intake.cases i WHERE i.case_id = ANY($1::uuid[])",
        ids)}  # fmt: skip
    router = {r["case_id"] for r in await q(
        "SELECT case_id::text FROM router.cases WHERE case_id = ANY($1::uuid[])", ids)}  # fmt: skip
    events = Counter({r["case_id"]: r["n"] for r in await q(
        "SELECT case_id::text, count(*) AS n FROM router.outbox WHERE routing_key = 'case.dispatched'"
        " AND case_id = ANY($1::uuid[]) GROUP BY case_id", ids)})  # fmt: skip
    dispatches = await q(
        "SELECT dispatch_id::text, case_id::text, owner_id, acknowledge_due_at, resolve_due_at,"
        " progress_due_at FROM router.dispatches WHERE case_id = ANY($1::uuid[])", ids)  # fmt: skip
    d_ids = [d["dispatch_id"] for d in dispatches]
    clocks: dict[str, dict[str, list[Any]]] = {}
    for r in await q(
        "SELECT dispatch_id::text, kind, due_at, state FROM escalation.deadlines"
        " WHERE dispatch_id = ANY($1::uuid[])", d_ids):  # fmt: skip
        clocks.setdefault(r["dispatch_id"], {}).setdefault(r["kind"], []).append(r)
    deliveries: dict[str, list[Any]] = {}
    for r in await q(
        "SELECT dispatch_id::text, owner_id, status, delivery_id::text FROM notifier.deliveries"
        " WHERE event_type = 'case.dispatched' AND dispatch_id = ANY($1::uuid[])", d_ids):  # fmt: skip
        deliveries.setdefault(r["dispatch_id"], []).append(r)
    delivered_rows = Counter({r["dispatch_id"]: r["n"] for r in await q(
        "SELECT dispatch_id::text, count(*) AS n FROM router.timeline WHERE action = 'delivered'"
        " AND dispatch_id = ANY($1::uuid[]) GROUP BY dispatch_id", d_ids)})  # fmt: skip

    by_case: dict[str, list[Any]] = {}
    for d in dispatches:
        by_case.setdefault(d["case_id"], []).append(d)
    undelivered = resends = 0
    for case_id, category in accepted.items():
        if case_id not in intake:
            miss("intake case", case_id)
        elif intake[case_id] > 1:
            twice("intake case per external_id", case_id)
        if case_id not in router:
            miss("router case", case_id)
        if events[case_id] == 0:
            miss("case.dispatched", case_id)
        elif events[case_id] > 1:
            twice("case.dispatched", case_id)
        mine = by_case.get(case_id, [])
        owners = Counter(d["owner_id"] for d in mine)
        if set(owners) != routes.owners[category]:
            miss("dispatch per owner", case_id)
        if any(n > 1 for n in owners.values()):
            twice("dispatch per owner", case_id)
        for d in mine:
            did = d["dispatch_id"]
            want = {"acknowledge": d["acknowledge_due_at"], "resolve": d["resolve_due_at"]}
            if d["progress_due_at"] is not None:
                want["progress"] = d["progress_due_at"]
            have = clocks.get(did, {})
            for kind, due in want.items():
                rows = have.get(kind, [])
                if not any(r["state"] == "armed" and r["due_at"] == due for r in rows):
                    miss(f"armed {kind} clock", case_id)
                if len(rows) > 1:
                    twice(f"{kind} clock", case_id)
            sent = [x for x in deliveries.get(did, []) if x["owner_id"] == d["owner_id"]]
            if not sent:
                miss("delivery", case_id)
            elif len(sent) > 1:
                twice("delivery per dispatch", case_id)
            elif sent[0]["status"] == "pending":
                undelivered += 1
                miss("delivered (backlog)", case_id)
            elif sent[0]["status"] != "delivered":
                miss(f"delivery {sent[0]['status']}", case_id)
            else:
                n = received[sent[0]["delivery_id"]]
                if n == 0:
                    miss("received by the endpoint", case_id)
                resends += max(n - 1, 0)
                if delivered_rows[did] == 0:
                    miss("delivered timeline row", case_id)
                elif delivered_rows[did] > 1:
                    twice("delivered timeline row", case_id)
    return Audit(len(accepted), lost, dup, undelivered, resends)


# ---------------------------------------------------------------------------- probes


@dataclass
class ReadinessWatch:
    """Samples every service's ``/readyz`` until stopped; keeps what it saw."""

    urls: dict[str, str]
    interval: float = 0.5
    seen: dict[str, Counter[int]] = field(default_factory=dict)
    missing_retry_after: int = 0
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        async with httpx.AsyncClient(timeout=3) as http:
            while True:
                for name, url in self.urls.items():
                    try:
                        r = await http.get(f"{url}/readyz")
                        code = r.status_code
                        if code == 503 and "retry-after" not in r.headers:
                            self.missing_retry_after += 1
                    except httpx.HTTPError:
                        code = 0  # not answering (a killed process)
                    self.seen.setdefault(name, Counter())[code] += 1
                await asyncio.sleep(self.interval)


async def all_ready(urls: dict[str, str]) -> bool:
    async with httpx.AsyncClient(timeout=3) as http:
        for url in urls.values():
            try:
                if (await http.get(f"{url}/readyz")).status_code != 200:
                    return False
            except httpx.HTTPError:
                return False
    return True


@dataclass
class ProcStats:
    """What one process holds, from /proc: fds, threads, RSS, TCP connections to a port."""

    fds: int
    threads: int
    rss_kb: int
    established_to: int  # ESTABLISHED TCP connections of the process to ``port``
    sockets: int

    @classmethod
    def of(cls, pid: int, port: int | None = None) -> ProcStats:
        proc = Path(f"/proc/{pid}")
        inodes = set()
        fds = 0
        for fd in (proc / "fd").iterdir():
            fds += 1
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        established = 0
        if port is not None:
            for table in ("tcp", "tcp6"):
                for line in (proc / "net" / table).read_text().splitlines()[1:]:
                    cols = line.split()
                    remote_port = int(cols[2].rsplit(":", 1)[1], 16)
                    if cols[3] == "01" and remote_port == port and cols[9] in inodes:
                        established += 1
        status = (proc / "status").read_text()
        rss = next(int(x.split()[1]) for x in status.splitlines() if x.startswith("VmRSS:"))
        threads = len(list((proc / "task").iterdir()))
        return cls(fds, threads, rss, established, len(inodes))


# ---------------------------------------------------------------------------- receiver


class Receiver:
    """A signed-webhook receiver on a free port. While ``hanging``, it reads the request and
    never answers (the connection stays open); :meth:`release` makes it answer again."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.port = free_port()
        self.delivery_ids: list[str] = []
        self.rejected_signatures = 0
        self.hung_requests = 0
        self._answering = asyncio.Event()
        self._answering.set()
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def hang(self) -> None:
        self._answering.clear()

    def release(self) -> None:
        self._answering.set()

    async def _handle(self, request: Request) -> JSONResponse:
        body = await request.body()
        if not self._answering.is_set():
            self.hung_requests += 1
            await self._answering.wait()
            # The sender gave up long ago; answering now proves nothing, so refuse.
            return JSONResponse({"detail": "too late"}, status_code=503)
        if not verify(self.secret, dict(request.headers), body, time.time()):
            self.rejected_signatures += 1
            return JSONResponse({"detail": "bad signature"}, status_code=401)
        self.delivery_ids.append(request.headers.get(DELIVERY_HEADER, ""))
        return JSONResponse({"ok": True})

    async def __aenter__(self) -> Receiver:
        app = Starlette(routes=[Route("/hook", self._handle, methods=["POST"])])
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", timeout_graceful_shutdown=1
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            await asyncio.sleep(0.02)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server and self._task
        self.release()
        self._server.should_exit = True
        await self._task


def service_urls(url: Any) -> dict[str, str]:
    return {s: url(s) for s in SERVICES}


@dataclass(frozen=True)
class DeadLetter:
    queue: str
    message_id: str
    event_type: str
    case_id: str | None
    reason: str  # ours (x-shaobao-reason) or RabbitMQ's (x-first-death-reason)


async def dead_letters(
    stack: StackUnderTest, take: Callable[[DeadLetter], bool] = lambda _: False
) -> list[DeadLetter]:
    """Every message in the services' dead-letter queues; those ``take`` picks are removed
    (acked), the others stay where they are (held unacked, then returned on close)."""
    found: list[DeadLetter] = []
    conn = await aio_pika.connect(stack.amqp_url, timeout=10)
    async with conn:
        channel = await conn.channel()
        for service in SERVICES:
            queue = await channel.declare_queue(f"shaobao.{service}.dlq", passive=True)
            while (msg := await queue.get(no_ack=False, fail=False)) is not None:
                headers = msg.headers or {}
                reason = headers.get("x-shaobao-reason") or headers.get("x-first-death-reason")
                try:  # a packed message is one letter per event it carries
                    case_ids = [
                        e.get("case_id") for e in wire.envelopes(msg.body, msg.content_type)
                    ] or [None]
                except orjson.JSONDecodeError:
                    case_ids = [None]
                letters = [
                    DeadLetter(
                        queue.name,
                        msg.message_id or "",
                        msg.type or "",
                        case_id,
                        reason.decode() if isinstance(reason, bytes) else str(reason),
                    )
                    for case_id in case_ids
                ]
                found.extend(letters)
                if all([take(letter) for letter in letters]):
                    await msg.ack()
    return found


async def broker_answers(stack: StackUnderTest) -> bool:
    """True once RabbitMQ takes an AMQP connection to the suite's vhost again."""
    try:
        conn = await aio_pika.connect(stack.amqp_url, timeout=2)
    except Exception:
        return False
    await conn.close()
    return True
