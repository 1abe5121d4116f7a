"""The delivery worker: claims due deliveries and posts them, signed, to webhooks.

Claiming sets ``locked_until`` in a short transaction (``FOR UPDATE SKIP LOCKED``), so
no transaction is held open across HTTP and any number of replicas share the work. A
crash mid-send leaves the lock to expire and the delivery is tried again (receivers
dedupe on the ``X-Shaobao-Delivery`` header). 5xx, 429 and network errors are retried
with exponential back-off and jitter; other 4xx fail at once. Success of a dispatch
delivery emits ``dispatch.delivered``; a final failure emits ``delivery.failed``.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.notifier.tables import deliveries, delivery_attempts, endpoints, outbox
from shared.contracts.envelope import make_envelope
from shared.contracts.events import DeliveryFailed, DispatchDelivered
from shared.db.outbox import write_events
from shared.metrics import DELIVERIES
from shared.runtime import ServiceRuntime
from shared.security.pii import PiiVault
from shared.security.signing import DELIVERY_HEADER, signed_headers

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    retry: bool
    status_code: int | None
    error: str | None
    duration_ms: int


class DeliveryWorker:
    def __init__(self, runtime: ServiceRuntime, vault: PiiVault, *, batch: int = 50) -> None:
        self.rt = runtime
        self.vault = vault
        self.batch = batch
        s = runtime.settings
        self.max_attempts = s.webhook_max_attempts
        self.backoff = s.webhook_backoff_base_seconds
        self.timeout = s.webhook_timeout_seconds

    async def run(self) -> None:
        async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as client:
            while True:
                try:
                    claimed = await self._claim()
                    if claimed:
                        await asyncio.gather(*(self._deliver(client, row) for row in claimed))
                        continue
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("delivery_loop_error", error=repr(exc))
                    await asyncio.sleep(1.0)
                await asyncio.sleep(0.1)

    async def _claim(self) -> list[Any]:
        now = self.rt.clock.now()
        d = deliveries
        due = (
            select(d.c.delivery_id)
            .where(
                d.c.status == "pending",
                d.c.next_attempt_at <= now,
                or_(d.c.locked_until.is_(None), d.c.locked_until < now),
            )
            .order_by(d.c.next_attempt_at, d.c.created_at)
            .limit(self.batch)
            .with_for_update(skip_locked=True)
        )
        async with self.rt.engine.begin() as conn:
            rows = (
                await conn.execute(
                    update(d)
                    .where(d.c.delivery_id.in_(due.scalar_subquery()))
                    .values(locked_until=now + timedelta(seconds=self.timeout * 3))
                    .returning(d, endpoints.c.url, endpoints.c.secret_enc)
                    .where(endpoints.c.owner_id == d.c.owner_id)
                )
            ).all()
        return list(rows)

    async def _deliver(self, client: httpx.AsyncClient, row: Any) -> None:
        outcome = await self._post(client, row)
        DELIVERIES.labels(
            "delivered" if outcome.ok else "retry" if outcome.retry else "failed"
        ).inc()
        async with self.rt.engine.begin() as conn:
            await self._record(conn, row, outcome)
        self.rt.poke_relay()

    async def _post(self, client: httpx.AsyncClient, row: Any) -> Outcome:
        secret = self.vault.open(row.secret_enc) or ""
        headers = signed_headers(secret, int(time.time()), row.body)
        headers[DELIVERY_HEADER] = str(row.delivery_id)
        started = time.perf_counter()
        try:
            resp = await client.post(row.url, content=row.body, headers=headers)
        except httpx.HTTPError as exc:
            return Outcome(False, True, None, repr(exc)[:300], _ms(started))
        code = resp.status_code
        if 200 <= code < 300:
            return Outcome(True, False, code, None, _ms(started))
        retry = code >= 500 or code == 429
        return Outcome(False, retry, code, f"HTTP {code}", _ms(started))

    async def _record(self, conn: AsyncConnection, row: Any, outcome: Outcome) -> None:
        now = self.rt.clock.now()
        attempts = row.attempts + 1
        await conn.execute(
            insert(delivery_attempts).values(
                delivery_id=row.delivery_id,
                at=now,
                status_code=outcome.status_code,
                error=outcome.error,
                duration_ms=outcome.duration_ms,
            )
        )
        values: dict[str, Any] = {
            "attempts": attempts,
            "locked_until": None,
            "last_error": outcome.error,
        }
        if outcome.ok:
            values |= {"status": "delivered", "delivered_at": now}
            await self._emit_delivered(conn, row, attempts, now)
        elif outcome.retry and attempts < self.max_attempts:
            values["next_attempt_at"] = now + self._delay(attempts)
        else:
            values["status"] = "failed"
            await self._emit_failed(conn, row, attempts, outcome.error or "", now)
        await conn.execute(
            update(deliveries)
            .where(
                and_(deliveries.c.delivery_id == row.delivery_id, deliveries.c.status == "pending")
            )
            .values(**values)
        )

    def _delay(self, attempts: int) -> timedelta:
        base = self.backoff * 2 ** (attempts - 1)
        return timedelta(seconds=min(base, 3600) * (0.5 + random.random()))

    async def _emit_delivered(
        self, conn: AsyncConnection, row: Any, attempts: int, now: datetime
    ) -> None:
        if row.dispatch_id is None:
            return
        event = DispatchDelivered(
            case_id=row.case_id,
            dispatch_id=row.dispatch_id,
            owner_id=row.owner_id,
            delivery_id=row.delivery_id,
            delivered_at=now,
            attempts=attempts,
        )
        env = make_envelope(event, producer="notifier", occurred_at=now, case_id=row.case_id)
        await write_events(conn, outbox, [env])

    async def _emit_failed(
        self, conn: AsyncConnection, row: Any, attempts: int, error: str, now: datetime
    ) -> None:
        log.error(
            "delivery_failed", delivery_id=str(row.delivery_id), owner_id=row.owner_id, error=error
        )
        event = DeliveryFailed(
            case_id=row.case_id,
            dispatch_id=row.dispatch_id,
            owner_id=row.owner_id,
            delivery_id=row.delivery_id,
            attempts=attempts,
            last_error=error,
        )
        env = make_envelope(event, producer="notifier", occurred_at=now, case_id=row.case_id)
        await write_events(conn, outbox, [env])


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
