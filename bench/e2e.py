"""Benchmark (not a test): cases over HTTP, end to end, with the machine's raw ceilings.

Per case it measures the time from intake's HTTP answer to the router's
``case.dispatched`` event on the bus (a private queue bound to the exchange), and from
the case's intended send time (open loop, so no coordinated omission). Run against a
running system, best a fresh one (``bash bench/fresh.sh``):

    export $(bash bench/fresh.sh env)
    uv run python -m bench.e2e --rate 300 --duration 60 --senders 2 --batch-ms 20 --ceilings
    uv run python -m bench.e2e --rate 500 --duration 60 --warmup 5 --senders 2 --batch-ms 20
    uv run python -m bench.e2e --rate 100 --duration 60 --senders 2   # one case per request
    uv run python -m bench.e2e --cases 2000 --concurrency 32          # closed loop
    uv run python -m bench.e2e --rate 500 --duration 60 --senders 2 --batch-ms 20 --free-text

``--batch-ms N`` makes each sender a forwarding platform: every N ms it posts the cases
that arrived since its last post as one ``POST /v1/cases/batch``; each case's latency
still counts from its own intended arrival, so the wait for the next post is included.

``--warmup S`` first sends S seconds of cases at the same rate and reports them apart:
the services of a fresh system prepare their statements and fill their pools on their
first few hundred cases (the first tenth of a cold run has a p99 several times the rest).
The measured cases, their CPU and their rate start after it.

``--senders N`` spreads the HTTP load over N processes. The senders post with aiohttp
(its C HTTP parser): they share the two cores with what they measure, and httpx cost
3.3 ms of the senders' CPU per one-case request (more than intake itself); aiohttp costs
a fraction of that, which the run prints as the senders' CPU per case. ``--ceilings`` first measures, in the
same run, pgbench single-row insert transactions/s and a bare publish-with-confirm
rate, and prints the pipeline's rate as a share of each.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import re
import resource
import secrets
import subprocess
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import aio_pika
import aiohttp
import orjson

from bench.common import machine, spread
from shared.auth.keys import Role
from shared.cli.keys_cmd import make_key
from shared.messaging import wire
from shared.settings import Settings

# The sample district's four compounds (config/owners.yaml), in turn.
LOCATIONS = [
    {"district": "d01", "street": s, "community": c, "grid": g, "compound": "k01"}
    for s, c, g in (
        ("s01", "c01", "g01"),
        ("s01", "c01", "g02"),
        ("s01", "c02", "g01"),
        ("s02", "c01", "g01"),
    )
]
CATEGORIES = [
    "property.elevator",
    "environment.cooking_fume",
    "fire.ebike_charging",
    "animal.stray_dog",
]
PG_BIN = Path("/usr/lib/postgresql/15/bin")


# --free-text: 12345 orders as the hotline types them (no category or location codes; the
# triage model and the gazetteer decide). Texts the sample model is sure of, so each routes
# by itself and reaches case.dispatched (an unsure one would wait for a dispatcher).
# Set through the environment so the spawned senders see it too.
# --same-text: the same orders with their codes given (category and location): what the
# free-text mode costs beyond these longer texts (stored, encrypted, indexed for search)
# is triage's own cost.
FREE_TEXT = os.environ.get("BENCH_FREE_TEXT") == "1"
SAME_TEXT = os.environ.get("BENCH_SAME_TEXT") == "1"
TEXTS = [
    ("电梯停运", "市民来电反映：{a}电梯停了两天，老人下不了楼，诉求：尽快维修"),
    ("饭馆油烟扰民", "市民来电反映：{a}楼下饭馆油烟直排，熏得没法开窗，诉求：尽快解决"),
    ("楼道电动车充电", "网格员上报：{a}楼道里有人给电动车充电，太危险了"),
    ("流浪狗咬人", "市民来电反映：{a}附近流浪狗咬伤了孩子，要求处理"),
]
ADDRESSES = ["幸福里小区3号楼", "锦绣花园5号楼", "光明小区2号楼", "和平里小区12号楼"]


def case_body(run: str, i: int, petitioners: bool) -> dict[str, Any]:
    if FREE_TEXT or SAME_TEXT:
        title, text = TEXTS[i % len(TEXTS)]
        address = ADDRESSES[i % len(ADDRESSES)]
        body: dict[str, Any] = {
            "external_id": f"bench-{run}-{i}",
            "title": title,
            "description": text.format(a=address) + f"（{i}）",
            "address": address,
        }
        if SAME_TEXT:
            body["category"] = CATEGORIES[i % len(CATEGORIES)]
            body["location"] = LOCATIONS[i % len(LOCATIONS)]
    else:
        body = {
            "external_id": f"bench-{run}-{i}",
            "category": CATEGORIES[i % len(CATEGORIES)],
            "title": "压测工单",
            "description": f"benchmark case {i}",
            "location": LOCATIONS[i % len(LOCATIONS)],
        }
    if petitioners:  # a hotline case has a caller; a fresh number each, so nothing links
        body["petitioner"] = {"name": "测试", "phone": f"13{secrets.randbelow(10**9):09d}"}
    return body


# -- senders (one process each) ----------------------------------------------------------
def _sender(args: dict[str, Any], pipe: Any) -> None:
    """One sending process: says it is ready (imports done), is told when to start."""
    pipe.send("ready")
    args["start_at"] = pipe.recv()
    before = _own_cpu()  # its sending only: not the interpreter's start and imports
    result = asyncio.run(_send(**args))
    pipe.send(result | {"cpu": _own_cpu() - before})


async def _send(
    *,
    index: int,
    senders: int,
    cases: int,
    rate: float | None,
    concurrency: int,
    intake: str,
    key: str,
    run: str,
    start_at: float,
    petitioners: bool,
    batch_ms: float = 0,
) -> dict[str, Any]:
    """Send cases index, index+senders, ...; returns {case_id: (intended, answered)}."""
    mine = list(range(index, cases, senders))
    await asyncio.sleep(max(0.0, start_at - time.time()))  # closed loop too: all at once
    if batch_ms and rate:
        return await _send_batches(
            mine, rate, concurrency, intake, key, run, start_at, petitioners, batch_ms
        )
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in mine:
        queue.put_nowait(i)
    timings: dict[str, tuple[float, float]] = {}
    errors: dict[str, int] = {}

    async def client(http: aiohttp.ClientSession) -> None:
        while not queue.empty():
            i = queue.get_nowait()
            intended = start_at + i / rate if rate else time.time()
            if rate:
                await asyncio.sleep(max(0.0, intended - time.time()))
            body = orjson.dumps(case_body(run, i, petitioners))
            try:
                async with http.post(f"{intake}/v1/cases", data=body) as resp:
                    status, content = resp.status, await resp.read()
            except (aiohttp.ClientError, TimeoutError) as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                continue
            if status != 201:
                errors[str(status)] = errors.get(str(status), 0) + 1
                continue
            timings[orjson.loads(content)["case_id"]] = (intended, time.time())

    async with _client(concurrency, key) as http:
        await asyncio.gather(*(client(http) for _ in range(concurrency)))
    return {"timings": timings, "errors": errors}


def _client(concurrency: int, key: str) -> aiohttp.ClientSession:
    # The load generator keeps its own CPU small (it shares the machine with what it
    # measures): aiohttp's C parser, bodies encoded and answers decoded with orjson.
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=concurrency),
        headers=headers,
        timeout=aiohttp.ClientTimeout(total=60),
        skip_auto_headers=("User-Agent",),
    )


async def _send_batches(
    mine: list[int],
    rate: float,
    concurrency: int,
    intake: str,
    key: str,
    run: str,
    start_at: float,
    petitioners: bool,
    batch_ms: float,
) -> dict[str, Any]:
    """A forwarding platform: every ``batch_ms`` it sends the cases that arrived since its
    last send as one ``POST /v1/cases/batch`` (at most 500). Each case's latency still
    starts at its own intended arrival, so the wait for the next send is counted."""
    timings: dict[str, tuple[float, float]] = {}
    errors: dict[str, int] = {}
    in_flight = asyncio.Semaphore(concurrency)

    async def post(http: aiohttp.ClientSession, due: list[int]) -> None:
        body = orjson.dumps({"cases": [case_body(run, i, petitioners) for i in due]})
        async with in_flight:
            try:
                async with http.post(f"{intake}/v1/cases/batch", data=body) as resp:
                    status, content = resp.status, await resp.read()
            except (aiohttp.ClientError, TimeoutError) as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + len(due)
                return
        answered = time.time()
        if status != 200:
            errors[str(status)] = errors.get(str(status), 0) + len(due)
            return
        for i, item in zip(due, orjson.loads(content)["results"], strict=True):
            if item["status_code"] == 201:
                timings[item["case"]["case_id"]] = (start_at + i / rate, answered)
            else:
                errors[str(item["status_code"])] = errors.get(str(item["status_code"]), 0) + 1

    async with _client(concurrency, key) as http:
        tasks: list[asyncio.Task[None]] = []
        pos = 0
        while pos < len(mine):
            await asyncio.sleep(max(0.0, start_at + mine[pos] / rate - time.time()))
            await asyncio.sleep(batch_ms / 1000)
            now = time.time()
            due: list[int] = []
            while pos < len(mine) and start_at + mine[pos] / rate <= now and len(due) < 500:
                due.append(mine[pos])
                pos += 1
            tasks.append(asyncio.create_task(post(http, due)))
        await asyncio.gather(*tasks)
    return {"timings": timings, "errors": errors}


# -- ceilings ------------------------------------------------------------------------------
def pgbench_tps(settings: Settings, seconds: int = 10, clients: int = 8) -> float | None:
    """Single-row INSERT transactions/s on a scratch table (pgbench, as the stack's user)."""
    url = settings.database_url.replace("postgresql+asyncpg://", "postgresql://")
    m = re.match(r"postgresql://([^:]+):([^@]+)@([^:/]+):(\d+)/(\w+)", url)
    if not m or not (PG_BIN / "pgbench").exists():
        return None
    user, password, host, port, db = m.groups()
    env = os.environ | {"PGPASSWORD": password}
    base = ["-h", host, "-p", port, "-U", user, db]
    psql = [str(PG_BIN / "psql"), *base, "-q", "-c"]
    subprocess.run(
        [*psql, "CREATE TABLE IF NOT EXISTS bench_ceiling (id bigserial, v text)"],
        env=env,
        check=True,
    )
    script = Path("/tmp/shaobao_bench_insert.sql")
    script.write_text("INSERT INTO bench_ceiling (v) VALUES ('x');\n")
    out = subprocess.run(
        [str(PG_BIN / "pgbench"), *base[:-1], "-n", "-f", str(script), "-c", str(clients),
         "-j", "2", "-T", str(seconds), db],
        env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    subprocess.run([*psql, "DROP TABLE bench_ceiling"], env=env, check=True)
    found = re.search(r"tps = ([\d.]+)", out)
    return float(found.group(1)) if found else None


async def publish_confirm_rate(settings: Settings, n: int = 20000, window: int = 100) -> float:
    """Persistent publishes with confirms, ``window`` in flight, to a scratch queue."""
    conn = await aio_pika.connect_robust(settings.amqp_url)
    try:
        ch = await conn.channel(publisher_confirms=True)
        q = await ch.declare_queue(
            f"bench.ceiling.{secrets.token_hex(3)}",
            durable=True,
            arguments={"x-queue-type": "quorum"},
        )
        body = b"x" * 600  # about one envelope
        started = time.perf_counter()
        for at in range(0, n, window):
            await asyncio.gather(
                *(
                    ch.default_exchange.publish(
                        aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                        routing_key=q.name,
                    )
                    for _ in range(min(window, n - at))
                )
            )
        rate = n / (time.perf_counter() - started)
        await q.delete(if_unused=False, if_empty=False)
        return rate
    finally:
        await conn.close()


# -- CPU per case, per process ---------------------------------------------------------------
SERVICES = ("intake", "router", "escalation", "notifier")
RUN_DIR = Path(os.environ.get("SHAOBAO_RUN_DIR", Path(__file__).resolve().parent.parent / ".run"))


def _proc_stat(pid: str) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def cpu_seconds() -> dict[str, float]:
    """CPU seconds (user + system) used so far by each service process that
    deploy/services.sh started (its pid file names the ``uv run`` wrapper; the server is
    its child) and by all PostgreSQL and RabbitMQ processes."""
    tick = os.sysconf("SC_CLK_TCK")
    stats = {pid: st for pid in filter(str.isdigit, os.listdir("/proc")) if (st := _proc_stat(pid))}
    used = dict.fromkeys([*SERVICES, "postgresql", "rabbitmq"], 0.0)
    for svc in SERVICES:
        try:
            wrapper = (RUN_DIR / f"{svc}.pid").read_text().strip()
        except OSError:
            continue
        for pid, st in stats.items():
            if pid == wrapper or st[1] == wrapper:  # st[1] is the parent pid
                used[svc] += (int(st[11]) + int(st[12])) / tick
    for pid, st in stats.items():
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        part = {"postgres": "postgresql", "beam.smp": "rabbitmq"}.get(comm)
        if part:
            used[part] += (int(st[11]) + int(st[12])) / tick
    return used


# -- the run ---------------------------------------------------------------------------------
async def run(a: argparse.Namespace) -> None:
    settings = Settings()
    ceilings: dict[str, float | None] = {}
    if a.ceilings:
        ceilings["pgbench single-row insert tps"] = pgbench_tps(settings)
        ceilings[
            "publish with confirms msg/s (100 in flight, quorum)"
        ] = await publish_confirm_rate(settings)
    cases = a.cases if a.rate is None or a.duration is None else int(a.rate * a.duration)
    warm = int(a.rate * a.warmup) if a.rate else 0  # sent first, at the rate; not counted
    key = await make_key(settings, Role.CHANNEL, channel="hotline_12345", label="bench")
    dispatched: dict[str, float] = {}
    routed: dict[str, float] = {}
    connection = await aio_pika.connect_robust(settings.amqp_url)
    channel = await connection.channel()
    await channel.set_qos(prefetch_count=2000)
    exchange = await channel.declare_exchange(
        settings.exchange, aio_pika.ExchangeType.TOPIC, durable=True
    )
    probe = await channel.declare_queue(exclusive=True)
    await probe.bind(exchange, routing_key="case.dispatched")

    async def on_dispatched(msg: aio_pika.abc.AbstractIncomingMessage) -> None:
        now = time.time()
        for envelope in wire.envelopes(msg.body, msg.content_type):
            dispatched.setdefault(envelope["case_id"], now)
            # the router's clock when its batch began: splits the hop at the router
            routed.setdefault(envelope["case_id"], _epoch(envelope["occurred_at"]))
        await msg.ack()

    await probe.consume(on_dispatched, no_ack=False)
    run_id = f"{int(time.time())}-{secrets.token_hex(2)}"
    ctx = mp.get_context("spawn")
    pipes, procs = [], []
    for i in range(a.senders):
        parent, child = ctx.Pipe()
        args = {
            "index": i, "senders": a.senders, "cases": warm + cases, "rate": a.rate,
            "concurrency": max(1, a.concurrency // a.senders), "intake": a.intake, "key": key,
            "run": run_id, "petitioners": not a.anonymous,
            "batch_ms": a.batch_ms,
        }  # fmt: skip
        proc = ctx.Process(target=_sender, args=(args, child), daemon=True)
        proc.start()
        pipes.append(parent)
        procs.append(proc)
    # The clock starts once every sender has started (a spawned Python takes about a
    # second to import): a case is never counted late for the load generator's start.
    for pipe in pipes:
        await asyncio.to_thread(pipe.recv)
    start_at = time.time() + 0.2
    for pipe in pipes:
        pipe.send(start_at)
    if warm:  # the measured run starts after the warm-up's cases, CPU included
        start_at += warm / a.rate
    cpu_at_start = asyncio.create_task(_cpu_at(start_at))
    results = [await asyncio.to_thread(p.recv) for p in pipes]
    for proc in procs:
        proc.join()
    timings: dict[str, tuple[float, float]] = {}
    errors: dict[str, int] = {}
    for r in results:
        timings.update(r["timings"])
        for k, v in r["errors"].items():
            errors[k] = errors.get(k, 0) + v
    senders_cpu = sum(r["cpu"] for r in results)  # warm-up included
    warmed = {c: t for c, t in timings.items() if warm and t[0] < start_at}
    timings = {c: t for c, t in timings.items() if c not in warmed}
    sent_until = max((t[1] for t in timings.values()), default=start_at)
    deadline = time.monotonic() + 120
    while len(timings.keys() & dispatched.keys()) < len(timings) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    await asyncio.sleep(2)  # let the downstream consumers (escalation, notifier) finish too
    cpu_before = await cpu_at_start
    cpu_used = {k: v - cpu_before[k] for k, v in cpu_seconds().items()}
    await connection.close()
    done = [c for c in timings if c in dispatched]
    last = max((dispatched[c] for c in done), default=start_at)
    from_answer = [(dispatched[c] - timings[c][1]) * 1000 for c in done]
    from_intended = [(dispatched[c] - timings[c][0]) * 1000 for c in done]
    answer = [(t[1] - t[0]) * 1000 for t in timings.values()]
    e2e_rate = len(done) / max(last - start_at, 1e-9)
    print(f"machine: {machine()}")
    print(
        f"cases: {cases}  rate: {a.rate or 'closed loop'}  senders: {a.senders}  "
        f"concurrency: {a.concurrency}  "
        f"batches: {f'every {a.batch_ms:g} ms' if a.batch_ms else 'no'}  errors: {errors or 0}"
    )
    print(
        f"accepted: {len(timings)} in {sent_until - start_at:.1f}s -> "
        f"{len(timings) / max(sent_until - start_at, 1e-9):.0f} cases/s (HTTP)"
    )
    print(
        f"dispatched: {len(done)} in {last - start_at:.1f}s -> {e2e_rate:.0f} cases/s (end to end)"
    )
    if warmed:
        lat = [(dispatched[c] - t[0]) * 1000 for c, t in warmed.items() if c in dispatched]
        print(
            f"warm-up first (not counted): {len(warmed)} cases in {a.warmup:g}s at the rate; "
            f"intended send -> case.dispatched ms: {spread(lat)}"
        )
    print(f"intended send -> HTTP answer ms:       {spread(answer)}")
    print(f"HTTP answer -> case.dispatched ms:     {spread(from_answer)}")
    to_router = [(routed[c] - timings[c][1]) * 1000 for c in done]
    print(f"  answer -> router's batch begins ms:   {spread(to_router)}")
    print(
        f"  router's batch -> on the bus ms:      {spread([(dispatched[c] - routed[c]) * 1000 for c in done])}"
    )
    print(f"intended send -> case.dispatched ms:   {spread(from_intended)}")
    print(f"  p99 by tenth of the run (ms):        {_p99_by_tenth(done, timings, dispatched)}")
    if done:
        per_case = "  ".join(f"{k} {1000 * v / len(done):.2f}" for k, v in cpu_used.items())
        total = 1000 * sum(cpu_used.values()) / len(done)
        print(
            f"CPU ms per case: {per_case}  (all {total:.2f}; senders not counted; PostgreSQL and RabbitMQ include any other load on them)"
        )
        sent = len(timings) + len(warmed)  # every case accepted
        print(f"CPU ms per case of the senders (load generator): {1000 * senders_cpu / sent:.2f}")
    for name, value in ceilings.items():
        if value:
            print(f"ceiling: {name}: {value:.0f}  (pipeline = {100 * e2e_rate / value:.1f} %)")
        else:
            print(f"ceiling: {name}: not measured")


def _own_cpu() -> float:
    """CPU seconds this process has used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _cpu_at(when: float) -> dict[str, float]:
    await asyncio.sleep(max(0.0, when - time.time()))
    return await asyncio.to_thread(cpu_seconds)  # off the loop that stamps arrivals


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def _p99_by_tenth(
    done: list[str], timings: dict[str, tuple[float, float]], dispatched: dict[str, float]
) -> str:
    """p99 from intended send to dispatched for each tenth of the cases in send order:
    shows a warm-up, or a drift as tables grow, that the whole run's p99 hides."""
    order = sorted(done, key=lambda c: timings[c][0])
    tenth = max(1, len(order) // 10)
    out = []
    for at in range(0, len(order), tenth):
        lat = sorted((dispatched[c] - timings[c][0]) * 1000 for c in order[at : at + tenth])
        out.append(f"{lat[min(len(lat) - 1, int(len(lat) * 0.99))]:.0f}")
    return " ".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=None, help="open-loop cases/s")
    parser.add_argument("--duration", type=float, default=None, help="seconds at --rate")
    parser.add_argument("--concurrency", type=int, default=64, help="connections in all")
    parser.add_argument("--senders", type=int, default=1, help="sending processes")
    parser.add_argument(
        "--warmup",
        type=float,
        default=0,
        help="open loop: first send this many seconds at --rate, reported apart, not counted",
    )
    parser.add_argument("--intake", default="http://127.0.0.1:8001")
    parser.add_argument("--anonymous", action="store_true", help="post without a petitioner")
    parser.add_argument("--ceilings", action="store_true", help="pgbench + publish-confirm")
    parser.add_argument(
        "--free-text",
        action="store_true",
        help="orders without category or location codes: intake's triage decides (needs a model)",
    )
    parser.add_argument(
        "--same-text",
        action="store_true",
        help="the --free-text orders with their category and location codes given",
    )
    parser.add_argument(
        "--batch-ms",
        type=float,
        default=0,
        help="open loop: send what arrived every this many ms as POST /v1/cases/batch",
    )
    args = parser.parse_args()
    if args.free_text:
        os.environ["BENCH_FREE_TEXT"] = "1"  # the senders are spawned: they read it at import
        global FREE_TEXT
        FREE_TEXT = True
    if args.same_text:
        os.environ["BENCH_SAME_TEXT"] = "1"
        global SAME_TEXT
        SAME_TEXT = True
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
