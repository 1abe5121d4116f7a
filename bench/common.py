"""What the benchmark commands share: percentiles, the machine line, channel keys, and a
probe that hears the router's decision for each case on a private queue.

Benchmarks print figures; nothing here passes or fails on speed.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

from shared.auth.keys import Role
from shared.cli.keys_cmd import make_key
from shared.messaging import wire
from shared.settings import Settings

DECISIONS = ("case.dispatched", "case.disputed")


def percentile(values: Iterable[float], p: float) -> float:
    """Nearest-rank percentile (NaN for no values)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def spread(values: list[float], unit: str = "ms") -> str:
    """``p50 … p95 … p99 … max`` of ``values`` for a report line."""
    if not values:
        return "no samples"
    return (
        f"p50 {percentile(values, 50):.1f}  p95 {percentile(values, 95):.1f}  "
        f"p99 {percentile(values, 99):.1f}  max {max(values):.1f} {unit}  (n={len(values)})"
    )


def machine() -> str:
    """One line naming the machine and how busy it is, printed before every figure."""
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{platform.node()} {platform.machine()} {os.cpu_count()} cores ({cpu}), "
        f"{mem:.1f} GiB RAM, python {platform.python_version()}, load average {load}"
    )


async def channel_keys(settings: Settings, channels: Iterable[str], label: str) -> dict[str, str]:
    """A fresh channel key per channel (stored in the stack's database, printed nowhere)."""
    return {
        ch: await make_key(settings, Role.CHANNEL, channel=ch, label=label)
        for ch in sorted(set(channels))
    }


@dataclass
class Decision:
    """The router's first word on a case: dispatched (with its lead) or disputed."""

    at: float
    kind: str
    lead_owner_id: str | None = None
    owners: list[str] = field(default_factory=list)


@dataclass
class DecisionProbe:
    """A private, exclusive queue bound to ``case.dispatched`` and ``case.disputed``.

    Records, per case id, the monotonic time (``time.perf_counter``) the first decision
    arrived and its lead owner. Later decisions for the same case (a re-dispatch) are
    counted in ``again`` but do not move the first.
    """

    decisions: dict[str, Decision] = field(default_factory=dict)
    again: int = 0
    _connection: AbstractRobustConnection | None = None

    async def start(self, settings: Settings, keys: Iterable[str] = DECISIONS) -> None:
        self._connection = await aio_pika.connect_robust(settings.amqp_url)
        channel = await self._connection.channel()
        await channel.set_qos(prefetch_count=1000)
        exchange = await channel.declare_exchange(
            settings.exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(exclusive=True)
        for key in keys:
            await queue.bind(exchange, routing_key=key)
        await queue.consume(self._on_message)

    async def _on_message(self, msg: AbstractIncomingMessage) -> None:
        now = time.perf_counter()
        for envelope in wire.envelopes(msg.body, msg.content_type):
            case_id = str(envelope.get("case_id"))
            if case_id in self.decisions:
                self.again += 1
                continue
            kind = str(envelope.get("type", msg.routing_key))
            data = envelope.get("data") or {}
            dispatches = data.get("dispatches") or []
            lead = next((d["owner_id"] for d in dispatches if d.get("role") == "lead"), None)
            owners = [d["owner_id"] for d in dispatches]
            self.decisions[case_id] = Decision(now, kind, lead, owners)
        await msg.ack()

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()

    def heard(self, case_ids: Iterable[str]) -> int:
        return sum(1 for c in case_ids if c in self.decisions)
