"""Benchmark (not a test): N cases over HTTP with C concurrent clients, end to end.

Measures, per case, the time from intake's HTTP answer to the router's
``case.dispatched`` event on the bus (a private queue bound to the exchange), plus the
throughput of accepted cases. Run against a running system (``bash deploy/up.sh``):

    uv run python -m bench.e2e --cases 2000 --concurrency 32

Latency is measured from the intended send time when ``--rate`` is given (no
coordinated omission); otherwise clients send as fast as they can (closed loop).
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import time

import aio_pika
import httpx
import orjson

from shared.auth.keys import Role
from shared.cli.keys_cmd import make_key
from shared.settings import Settings

LOCATION = {
    "district": "d01",
    "street": "s01",
    "community": "c01",
    "grid": "g01",
    "compound": "k01",
}
CATEGORIES = [
    "property.elevator",
    "environment.cooking_fume",
    "fire.ebike_charging",
    "animal.stray_dog",
]


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


async def run(cases: int, concurrency: int, rate: float | None, intake: str) -> None:
    settings = Settings()
    key = await make_key(settings, Role.CHANNEL, channel="hotline_12345", label="bench")
    answered: dict[str, float] = {}
    dispatched: dict[str, float] = {}
    connection = await aio_pika.connect_robust(settings.amqp_url)
    channel = await connection.channel()
    await channel.set_qos(prefetch_count=1000)
    exchange = await channel.declare_exchange(
        settings.exchange, aio_pika.ExchangeType.TOPIC, durable=True
    )
    probe = await channel.declare_queue(exclusive=True)
    await probe.bind(exchange, routing_key="case.dispatched")

    async def on_dispatched(msg: aio_pika.abc.AbstractIncomingMessage) -> None:
        dispatched[orjson.loads(msg.body)["case_id"]] = time.perf_counter()
        await msg.ack()

    await probe.consume(on_dispatched)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(cases):
        queue.put_nowait(i)
    started = time.perf_counter()
    errors = 0

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal errors
        while not queue.empty():
            i = queue.get_nowait()
            if rate:
                intended = started + i / rate
                await asyncio.sleep(max(0.0, intended - time.perf_counter()))
            body = {
                "external_id": f"bench-{started}-{i}",
                "category": CATEGORIES[i % len(CATEGORIES)],
                "title": "压测工单",
                "description": "benchmark case",
                "location": LOCATION,
            }
            resp = await http.post(f"{intake}/v1/cases", json=body)
            if resp.status_code != 201:
                errors += 1
                continue
            answered[resp.json()["case_id"]] = time.perf_counter()

    limits = httpx.Limits(max_connections=concurrency)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(timeout=30, limits=limits, headers=headers) as http:
        await asyncio.gather(*(client(http) for _ in range(concurrency)))
    accepted_s = time.perf_counter() - started
    deadline = time.monotonic() + 120
    while len(set(answered) & set(dispatched)) < len(answered) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    total_s = max(dispatched.values(), default=started) - started
    lat = [(dispatched[c] - answered[c]) * 1000 for c in answered if c in dispatched]
    await connection.close()
    print(f"machine: {platform.node()} {platform.machine()} python {platform.python_version()}")
    print(f"cases: {cases}  concurrency: {concurrency}  rate: {rate or 'open'}  errors: {errors}")
    print(
        f"accepted: {len(answered)} in {accepted_s:.2f}s  -> {len(answered) / accepted_s:.0f} cases/s (HTTP)"
    )
    print(
        f"dispatched: {len(lat)} in {total_s:.2f}s  -> {len(lat) / max(total_s, 1e-9):.0f} cases/s (end to end)"
    )
    if lat:
        print(
            "answer->case.dispatched ms: "
            f"p50 {percentile(lat, 50):.1f}  p95 {percentile(lat, 95):.1f}  "
            f"p99 {percentile(lat, 99):.1f}  max {max(lat):.1f}  mean {statistics.mean(lat):.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate", type=float, default=None, help="open-loop cases/s")
    parser.add_argument("--intake", default="http://127.0.0.1:8001")
    args = parser.parse_args()
    asyncio.run(run(args.cases, args.concurrency, args.rate, args.intake))


if __name__ == "__main__":
    main()
