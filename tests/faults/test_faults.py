"""Nothing lost under faults: each fault applied once, under a steady load of cases.

Every fault runs the same way (:func:`run_phase`): a channel-like load posts cases to intake
(12/s, retrying with the same keys), the fault is applied and ended, the load stops once
every service is ready again, and the audit waits for the backlog to drain. Then every
case intake accepted must be dispatched exactly once, its clocks armed, one delivery per
dispatch per endpoint delivered, nothing applied twice. The measured table is in
docs/reliability.md (``bash scripts/faults.sh`` prints it).
"""

from __future__ import annotations

import asyncio
import re
import secrets
import signal
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass

import aio_pika
import asyncpg
import httpx
import orjson
import pytest

from tests.faults.conftest import HUNG_OWNER, RESULTS, WEBHOOK_TIMEOUT, FaultResult, System
from tests.faults.harness import (
    Audit,
    DeadLetter,
    Load,
    ProcStats,
    ReadinessWatch,
    all_ready,
    audit,
    broker_answers,
    dead_letters,
)
from tests.support.services import SERVICES
from tests.support.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

DRAIN_TIMEOUT = 90.0


@dataclass
class Phase:
    load: Load
    watch: ReadinessWatch
    audit: Audit
    recover_seconds: float | None
    fault_started: float
    fault_ended: float


async def run_phase(
    system: System,
    db: asyncpg.Pool,
    name: str,
    fault: Callable[[], Awaitable[None]],
    *,
    warmup: float = 3.0,
    notes: Callable[[Phase], str] = lambda _: "",
) -> Phase:
    """Load, fault, recovery, drain; records the row of the table and returns what was seen.

    Fails on any duplicate, any submission that never got a 2xx, and any lost case (a
    case in a dead-letter queue is lost too: nobody is helped until an operator acts).
    Consumers hold an event while the database is away instead of spending deliveries
    (shared/messaging/consumer.py), so an outage dead-letters nothing."""
    tag = f"{re.sub(r'[^a-z0-9]+', '-', name.lower())}-{secrets.token_hex(3)}"  # ASCII: a header
    # external_id is tag-N: past intake's 64 characters every case is refused (422)
    assert len(tag) <= 48, f"phase name too long for the load's external ids: {name}"
    load = Load(system.urls["intake"], system.channel, tag=tag)
    watch = ReadinessWatch(system.urls)
    load.start()
    watch.start()
    await asyncio.sleep(warmup)  # steady load before the fault (a duration, not a wait)
    started = time.monotonic()
    await fault()
    ended = time.monotonic()
    await eventually(lambda: all_ready(system.urls), timeout=60, interval=0.2, what="all ready")
    ready = time.monotonic()
    await load.stop()
    answered = time.monotonic()
    await watch.stop()
    found = await _drained(system, db, load.accepted)
    recovered = time.monotonic() - ended if found.complete else None
    letters = [d for d in await dead_letters(system.stack) if d.case_id in found.lost_cases]
    phase = Phase(load, watch, found, recovered, started, ended)
    gave_up = [s for s in load.submissions if s.gave_up]
    result = FaultResult(
        fault=name,
        accepted=found.accepted,
        lost=len(found.lost_cases),
        duplicated=len(found.duplicated_cases),
        recover_seconds=recovered,
        notes=notes(phase),
        detail={
            "submitted": len(load.submissions),
            "gave_up": len(gave_up),
            "answers": dict(load.answers),
            "slowest_answer_s": round(load.slowest_answer, 2),
            "readiness": {k: dict(v) for k, v in watch.seen.items()},
            "fault_seconds": round(ended - started, 1),
            "ready_after_s": round(ready - ended, 1),
            "all_answered_after_s": round(answered - ended, 1),
            "lost": found.lost,
            "duplicated": found.duplicated,
            "receiver_resends": found.receiver_resends,
            "dead_letters_of_lost_cases": [asdict(d) for d in letters],
        },
    )
    RESULTS.append(result)
    assert not found.duplicated, found.summary()
    assert not gave_up, [(s.external_id, s.gave_up) for s in gave_up[:5]]
    assert not found.lost_cases, f"{found.summary()}; their dead letters: {letters}"
    return phase


async def _drained(system: System, db: asyncpg.Pool, accepted: dict[str, str]) -> Audit:
    """The audit once complete, or the last one after ``DRAIN_TIMEOUT``."""
    deadline = time.monotonic() + DRAIN_TIMEOUT
    async with db.acquire() as conn:
        while True:
            found = await audit(conn, accepted, system.routes, Counter(system.received()))
            if found.complete or time.monotonic() > deadline:
                return found
            await asyncio.sleep(0.25)


def answers_note(p: Phase) -> str:
    a = p.load.answers
    shown = ", ".join(f"{k}×{v}" for k, v in sorted(a.items()))
    return f"intake answered {shown}; fault lasted {p.fault_ended - p.fault_started:.1f} s"


# ---------------------------------------------------------------------------- 1. SIGKILL


@pytest.mark.parametrize("service", SERVICES)
async def test_sigkill_of_a_service_and_a_restart_loses_and_doubles_nothing(
    system: System, db: asyncpg.Pool, service: str
) -> None:
    async def kill_and_restart() -> None:
        system.procs.kill(service, signal.SIGKILL)
        await asyncio.sleep(2.0)  # down for a while, as before a supervisor restarts it
        system.procs.start(service)

    await run_phase(system, db, f"SIGKILL {service}", kill_and_restart, notes=answers_note)


# ---------------------------------------------------------------------------- 4. poison


@pytest.mark.parametrize("service", SERVICES)
async def test_a_poison_message_is_dead_lettered_with_its_reason_and_nothing_stalls(
    system: System, db: asyncpg.Pool, service: str
) -> None:
    queue = f"shaobao.{service}"
    marker = f"poison-{service}-{secrets.token_hex(3)}"
    poisons = {
        f"{marker}-garbage": b"\x00 not an envelope",
        # a well-formed envelope of a type the service handles, with a payload that is not
        f"{marker}-payload": orjson.dumps(
            {
                "id": str(uuid.uuid4()),
                "type": "case.dispatched" if service != "router" else "case.received",
                "version": 1,
                "occurred_at": "2026-01-01T00:00:00Z",
                "producer": "faults",
                "case_id": str(uuid.uuid4()),
                "correlation_id": str(uuid.uuid4()),
                "data": {"case_id": "not-a-uuid"},
            }
        ),
    }

    async def inject() -> None:
        conn = await aio_pika.connect(system.stack.amqp_url)
        async with conn:
            channel = await conn.channel(publisher_confirms=True)
            for message_id, body in poisons.items():
                await channel.default_exchange.publish(
                    aio_pika.Message(body, message_id=message_id, type="case.dispatched"),
                    routing_key=queue,
                )

    await run_phase(system, db, f"poison → {service}", inject)

    async def taken() -> list[DeadLetter]:
        mine = lambda d: d.message_id.startswith(marker)  # noqa: E731
        got.extend(d for d in await dead_letters(system.stack, take=mine) if mine(d))
        return got if len(got) >= len(poisons) else []

    got: list[DeadLetter] = []
    await eventually(taken, timeout=30, what=f"the poison in {queue}.dlq")
    reasons = {d.message_id: d.reason for d in got}
    assert {d.queue for d in got} == {f"{queue}.dlq"}
    assert set(reasons) == set(poisons)
    assert "信封无法解析" in reasons[f"{marker}-garbage"], reasons
    assert "事件内容无效" in reasons[f"{marker}-payload"], reasons
    RESULTS[-1].notes = "; ".join(
        f"{k.rsplit('-', 1)[1]}: {v[:60]}" for k, v in sorted(reasons.items())
    )


# ---------------------------------------------------------------------------- 5. hanging receiver


@dataclass
class Held:
    """What the notifier holds at one moment: its process and its database sessions."""

    proc: ProcStats
    db_sessions: int


async def test_a_hanging_webhook_receiver_leaks_nothing_and_other_owners_keep_flowing(
    system: System, db: asyncpg.Pool
) -> None:
    pid = system.procs.procs["notifier"].pid
    port = system.hung.port
    hang_seconds = 12.0
    samples: list[Held] = []

    async def held() -> Held:
        sessions = await db.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 "
            "AND application_name = 'notifier'",
            system.stack.database,
        )
        return Held(ProcStats.of(pid, port), int(sessions))

    async def hang() -> None:
        samples.append(await held())
        system.hung.hang()
        deadline = time.monotonic() + hang_seconds
        while time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            samples.append(await held())
        system.hung.release()

    phase = await run_phase(system, db, "hanging webhook receiver", hang)
    before, during = samples[0], samples[1:]

    async def settled() -> Held | None:
        now = await held()
        ok = (
            now.proc.established_to == 0
            and now.proc.fds <= before.proc.fds + 5
            and now.proc.threads <= before.proc.threads
            and now.db_sessions <= before.db_sessions + 2
        )
        return now if ok else None

    # Leaks: once the receiver answers again, nothing held for the hang is still held.
    after = await eventually(settled, timeout=20, what="the notifier back to what it held before")
    since = time.monotonic() - phase.fault_started
    until = time.monotonic() - phase.fault_ended
    # Each request to the hung receiver the notifier gave up on (at its timeout), and how
    # many of other owners' deliveries were sent while it was outstanding: a worker that
    # waits for it sends none in the middle of that interval.
    hung = await db.fetch(
        "WITH hung AS (SELECT a.at - make_interval(secs => a.duration_ms / 1000.0) AS s, "
        "a.at AS e, a.duration_ms FROM notifier.delivery_attempts a "
        "JOIN notifier.deliveries d USING (delivery_id) WHERE d.owner_id = $1 "
        "AND a.status_code IS NULL AND a.at >= now() - make_interval(secs => $2)) "
        "SELECT hung.duration_ms, (SELECT count(*) FROM notifier.delivery_attempts a "
        "JOIN notifier.deliveries d USING (delivery_id) WHERE d.owner_id <> $1 "
        "AND a.at - make_interval(secs => a.duration_ms / 1000.0) "
        "BETWEEN hung.s + interval '0.5 s' AND hung.e - interval '0.5 s') AS others "
        "FROM hung ORDER BY hung.s",
        HUNG_OWNER,
        since,
    )
    lags = await db.fetchrow(
        "SELECT count(*) AS n, coalesce(percentile_cont(0.95) WITHIN GROUP (ORDER BY "
        "extract(epoch FROM delivered_at - created_at)), 0) AS p95 FROM notifier.deliveries "
        "WHERE owner_id <> $1 AND event_type = 'case.dispatched' "
        "AND created_at BETWEEN now() - make_interval(secs => $2) "
        "AND now() - make_interval(secs => $3)",
        HUNG_OWNER,
        since,
        until,
    )
    slowest = max((r["duration_ms"] for r in hung), default=0)
    peak_fds = max(h.proc.fds for h in during)
    peak_conns = max(h.proc.established_to for h in during)
    RESULTS[-1].notes = (
        f"hung {hang_seconds:.0f} s, {system.hung.hung_requests} requests held unanswered; "
        f"{len(hung)} attempts given up after {slowest} ms at most, other owners' deliveries "
        f"sent meanwhile {[r['others'] for r in hung]}; notifier fds "
        f"{before.proc.fds} → peak {peak_fds} → {after.proc.fds}, connections to the hung "
        f"receiver peak {peak_conns} → {after.proc.established_to}, threads "
        f"{before.proc.threads} → {after.proc.threads}, DB sessions {before.db_sessions} → "
        f"{after.db_sessions}; other owners' {lags['n']} deliveries meanwhile: "
        f"p95 {float(lags['p95']):.1f} s from made to delivered"
    )
    assert system.hung.hung_requests > 0 and hung
    assert slowest < (WEBHOOK_TIMEOUT + 1) * 1000, "an attempt outlived the webhook timeout"
    # Each hung interval's middle (its length less a second) saw at least a tenth of the
    # other owners' flow over the whole phase (a worker waiting for the hung request sends
    # none in some interval: the old worker's were 3, 0 and 21). A share of the phase's own
    # rate, not a fixed speed, so a busy machine does not fail it.
    rate = lags["n"] / max(phase.fault_ended - phase.fault_started, 1e-9)
    floor = 0.1 * rate * (WEBHOOK_TIMEOUT - 1.0)
    starved = [r["others"] for r in hung if r["others"] < floor]
    assert not starved, f"other owners waited behind the hung one: {starved} < {floor:.0f}"


# ---------------------------------------------------------------------------- 2./3. servers


def _pids(system: System) -> dict[str, int]:
    return {s: p.pid for s, p in system.procs.procs.items()}


async def _intake_outage_answers(
    system: System, outage: Callable[[], Awaitable[None]]
) -> Counter[str]:
    """What a plain reader sees from intake while ``outage`` runs (a GET every 0.3 s)."""
    answers: Counter[str] = Counter()
    stop = asyncio.Event()

    async def probe() -> None:
        async with httpx.AsyncClient(timeout=8) as http:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    r = await http.get(
                        f"{system.urls['intake']}/v1/cases/{uuid.uuid4()}", headers=system.ops
                    )
                    code = str(r.status_code)
                    if r.status_code == 503 and not r.headers.get("retry-after"):
                        code += " (no Retry-After)"
                    elif r.status_code == 503 and "稍后" not in r.json().get("detail", ""):
                        code += " (no reason)"
                except httpx.HTTPError as exc:
                    code = type(exc).__name__
                if time.monotonic() - started > 6:
                    code += " (slow)"
                answers[code] += 1
                await asyncio.sleep(0.3)

    task = asyncio.create_task(probe())
    try:
        await outage()
    finally:
        stop.set()
        await task
    return answers


async def test_a_rabbitmq_stop_and_start_is_ridden_out_without_restarts(
    system: System, db: asyncpg.Pool
) -> None:
    pids = _pids(system)
    probed: Counter[str] = Counter()
    starting: list[asyncio.Task[str]] = []

    async def outage() -> None:
        async def stop_start() -> None:
            await system.servers.run("mq-stop")
            await asyncio.sleep(2.0)  # down a while beyond the stop itself
            # stack.sh goes on (users, permissions, listeners) for a while after the node
            # takes connections again; the fault is over once it does.
            starting.append(asyncio.create_task(system.servers.run("mq-start")))
            await eventually(lambda: broker_answers(system.stack), timeout=120, interval=0.2)

        probed.update(await _intake_outage_answers(system, stop_start))

    try:
        phase = await run_phase(system, db, "RabbitMQ stop/start", outage, notes=answers_note)
    finally:
        waited = time.monotonic()
        await asyncio.gather(*starting)
        if RESULTS and RESULTS[-1].fault == "RabbitMQ stop/start":
            RESULTS[-1].detail["mq_start_tail_s"] = round(time.monotonic() - waited, 1)
    assert _pids(system) == pids, "a service restarted"
    for name in SERVICES:
        assert phase.watch.seen[name][503] > 0, f"{name} never reported the broker missing"
    assert phase.watch.missing_retry_after == 0
    assert phase.load.answers["500"] == 0
    assert set(probed) <= {"404"}, probed  # reads need no broker
    RESULTS[-1].notes += f"; reads during the outage: {dict(probed)}"


async def test_a_postgresql_stop_and_start_answers_503_and_recovers_by_itself(
    system: System, db: asyncpg.Pool
) -> None:
    pids = _pids(system)
    probed: Counter[str] = Counter()

    async def outage() -> None:
        async def stop_start() -> None:
            await system.servers.run("pg-stop", "fast")
            await asyncio.sleep(10.0)  # longer than a consumer's retries last (about 5 s)
            await system.servers.run("pg-start")

        probed.update(await _intake_outage_answers(system, stop_start))

    phase = await run_phase(system, db, "PostgreSQL stop/start", outage, notes=answers_note)
    assert _pids(system) == pids, "a service restarted"
    for name in SERVICES:
        assert phase.watch.seen[name][503] > 0, f"{name} never reported the database missing"
    assert phase.watch.missing_retry_after == 0
    assert phase.load.answers["503"] > 0
    assert phase.load.missing_retry_after == 0
    assert not {k for k in phase.load.answers if k.startswith("5") and k != "503"}
    assert phase.load.answers["ReadTimeout"] == 0, "intake hung instead of answering 503"
    assert phase.load.slowest_answer < 10, f"an answer took {phase.load.slowest_answer:.1f} s"
    assert set(probed) <= {"503", "404"}, probed
    RESULTS[-1].notes += f"; reads during the outage: {dict(probed)}"
