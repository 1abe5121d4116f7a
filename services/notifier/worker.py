"""The delivery worker: claims due deliveries and sends them (webhook, email, petitioner).

Claiming sets ``locked_until`` in a short transaction (``FOR UPDATE SKIP LOCKED``), so
no transaction is held open across I/O and any number of replicas share the work. A
crash mid-send leaves the lock to expire and the delivery is tried again (receivers
dedupe on the ``X-Shaobao-Delivery`` header). Retryable failures (5xx, 429, network)
back off exponentially with jitter; other 4xx fail at once. Deliveries to an endpoint
whose breaker is open are not claimed (see :mod:`services.notifier.breaker`); the
deliveries of one endpoint in a batch go out one after another in ``created_at`` order.
Success of a dispatch delivery emits ``dispatch.delivered``; a final failure emits
``delivery.failed``.

Endpoints do not wait for each other: each endpoint's claimed deliveries go out on a task
of their own (at most ``max_endpoints`` at once), and the loop keeps claiming for the other
endpoints meanwhile; an endpoint with a task in flight is not claimed again until it
finishes, so its order holds. A receiver that accepts and never answers costs its own
deliveries one timeout per attempt (then its breaker opens) and nobody else anything.
A delivery whose lease would lapse before its turn is released unsent rather than sent
late, so no other replica can be sending it at the same time. Leases are taken and judged
by the database's clock (:func:`shared.clock.database_now`), never a replica's own, and a
replica counts what is left of its lease on its monotonic clock from before the claim.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson
import structlog
from sqlalchemy import ColumnElement, Update, and_, insert, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.notifier import breaker
from services.notifier.deps import NotifierSettings
from services.notifier.events_out import emit_delivered, emit_failed
from services.notifier.petitioner import quiet_hours, send_to_petitioner
from services.notifier.senders import Outcome, post_webhook, send_email
from services.notifier.tables import deliveries, delivery_attempts, endpoints
from shared.clock import database_now
from shared.db.types import inline
from shared.metrics import DELIVERIES
from shared.polling import IdlePoll
from shared.runtime import ServiceRuntime
from shared.security.pii import PiiVault

log = structlog.get_logger(__name__)
# A lease lasts this many webhook timeouts, and a row is sent only while at least
# RELEASE_TIMEOUTS of them are left: a send takes at most one, so a whole timeout is left
# to record the outcome even on a stalled machine (with 3 and 1.5, half a timeout was
# left, and a stall of that long on a loaded two-core machine lost leases, so another
# replica sent those deliveries again).
LEASE_TIMEOUTS = 4
RELEASE_TIMEOUTS = 2


def claim_due(
    now: datetime | ColumnElement[datetime],
    lease: datetime | ColumnElement[datetime],
    batch: int,
    busy: set[str] | frozenset[str],
) -> Update:
    """Lease (until ``lease``) up to ``batch`` due deliveries, none of an endpoint in
    ``busy``; an open breaker's endpoint only its oldest (the half-open probe). Through
    the partial index ``ix_deliveries_due``: the status is inline (see ``inline``)."""
    d, e = deliveries, endpoints
    later = deliveries.alias("later")
    oldest = (
        select(later.c.delivery_id)
        .where(later.c.owner_id == d.c.owner_id, later.c.status == inline("pending"))
        .order_by(later.c.created_at)
        .limit(1)
        .scalar_subquery()
    )
    half_open_probe = and_(e.c.open_until <= now, d.c.delivery_id == oldest)
    due = (
        select(d.c.delivery_id)
        .join(e, e.c.owner_id == d.c.owner_id)
        .where(
            d.c.status == inline("pending"),  # ix_deliveries_due (see inline)
            d.c.next_attempt_at <= now,
            or_(d.c.locked_until.is_(None), d.c.locked_until < now),
            or_(e.c.open_until.is_(None), half_open_probe),
            d.c.owner_id.not_in(sorted(busy)) if busy else true(),
        )
        .order_by(d.c.next_attempt_at, d.c.created_at)
        .limit(batch)
        .with_for_update(of=d, skip_locked=True)
    )
    return (
        update(d)
        .where(d.c.delivery_id.in_(due.scalar_subquery()))
        .values(locked_until=lease)
        .returning(d, e.c.url, e.c.secret_enc, e.c.kind, e.c.open_until)
        .where(e.c.owner_id == d.c.owner_id)
    )


class DeliveryWorker:
    def __init__(
        self,
        runtime: ServiceRuntime,
        vault: PiiVault,
        config: NotifierSettings,
        *,
        batch: int = 50,
        max_endpoints: int = 50,
    ) -> None:
        self.rt = runtime
        self.vault = vault
        self.config = config
        self.batch = batch
        self.max_endpoints = max_endpoints
        s = runtime.settings
        self.max_attempts = s.webhook_max_attempts
        self.backoff = s.webhook_backoff_base_seconds
        self.timeout = s.webhook_timeout_seconds
        self.quiet = quiet_hours(config)
        # A consumer commit that wrote a due delivery wakes it (DELIVERIES_POLLER), and so
        # does a send finishing; the poll is for retries falling due, half-open breakers
        # and other replicas' rows.
        self.poll = IdlePoll(0.1, 1.0)

    def wake(self) -> None:
        self.poll.wake()

    async def run(self) -> None:
        """Claim and send until cancelled; cancelling also cancels the sends in flight."""
        gauge_at = 0.0
        inflight: dict[str, asyncio.Task[None]] = {}
        async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as client:
            try:
                while True:
                    self.poll.begin()
                    try:
                        expires = time.monotonic() + self.timeout * LEASE_TIMEOUTS
                        claimed = (
                            await self._claim(busy=set(inflight))
                            if len(inflight) < self.max_endpoints
                            else []
                        )
                        if claimed:
                            self._start(client, claimed, inflight, expires)
                            continue
                        if time.monotonic() - gauge_at > 1.0:  # replicas all report the DB count
                            gauge_at = time.monotonic()
                            async with self.rt.engine.connect() as conn:
                                await breaker.refresh_gauge(conn)
                    except asyncio.CancelledError:
                        raise
                    except Exception as exc:
                        log.warning("delivery_loop_error", error=repr(exc))
                        await asyncio.sleep(1.0)
                    # After a claim the loop claims again at once; this wait follows a
                    # pass that found nothing (or failed). Its sends' ends wake it.
                    await self.poll.wait(found=False)
            finally:
                for task in inflight.values():
                    task.cancel()
                await asyncio.gather(*inflight.values(), return_exceptions=True)

    def _start(
        self,
        client: httpx.AsyncClient,
        claimed: list[Any],
        inflight: dict[str, asyncio.Task[None]],
        expires: float,
    ) -> None:
        """One task per endpoint, sending its rows in ``created_at`` order; ``expires`` is
        when the claim's lease lapses at the latest, on the monotonic clock."""
        groups: dict[str, list[Any]] = defaultdict(list)
        for row in sorted(claimed, key=lambda r: r.created_at):
            groups[row.owner_id].append(row)
        for owner, rows in groups.items():
            task = asyncio.create_task(
                self._in_order(client, rows, expires), name=f"deliver:{owner}"
            )
            inflight[owner] = task

            def finished(t: asyncio.Task[None], owner: str = owner) -> None:
                inflight.pop(owner, None)
                self.poll.wake()  # the endpoint is free: rows behind may be claimed
                if not t.cancelled() and t.exception() is not None:
                    # e.g. the database went away mid-record: the rows' leases expire and
                    # they are claimed again
                    log.warning("delivery_task_error", owner_id=owner, error=repr(t.exception()))

            task.add_done_callback(finished)

    async def _claim(self, busy: set[str] | frozenset[str] = frozenset()) -> list[Any]:
        """Lease up to ``batch`` due deliveries, none of an endpoint in ``busy``, by the
        database's clock (one statement: every row gets the same ``locked_until``)."""
        now = database_now(self.rt.clock)
        lease = now + timedelta(seconds=self.timeout * LEASE_TIMEOUTS)
        e = endpoints
        async with self.rt.engine.begin() as conn:
            rows = (await conn.execute(claim_due(now, lease, self.batch, busy))).all()
            probing = {r.owner_id for r in rows if r.open_until is not None}
            if probing:  # hold the half-open endpoint for the probe's lease: one probe at a time
                await conn.execute(
                    update(e)
                    .where(e.c.owner_id.in_(probing))
                    .values(open_until=rows[0].locked_until)
                )
        return list(rows)

    async def _in_order(self, client: httpx.AsyncClient, rows: list[Any], expires: float) -> None:
        for i, row in enumerate(rows):
            # Not enough of the lease left for one more attempt: another replica may claim
            # it once it lapses, so release it (and those behind it) for the next claim.
            if expires - time.monotonic() < self.timeout * RELEASE_TIMEOUTS:
                await self._release(rows[i:])
                return
            if not await self._deliver(client, row):
                await self._release(rows[i + 1 :])  # they wait behind it, in order
                return

    async def _release(self, rows: list[Any]) -> None:
        if not rows:
            return
        async with self.rt.engine.begin() as conn:
            await conn.execute(
                update(deliveries)
                .where(deliveries.c.delivery_id.in_([r.delivery_id for r in rows]))
                .values(locked_until=None)
            )

    async def _deliver(self, client: httpx.AsyncClient, row: Any) -> bool:
        if row.kind == "petitioner" and self.quiet.contains(self.rt.clock.now()):
            await self._hold(row)
            return True
        outcome = await self._send(client, row)
        DELIVERIES.labels(
            "delivered" if outcome.ok else "retry" if outcome.retry else "failed"
        ).inc()
        async with self.rt.engine.begin() as conn:
            await self._record(conn, row, outcome)
        self.rt.poke_relay()
        return outcome.ok

    async def _send(self, client: httpx.AsyncClient, row: Any) -> Outcome:
        if row.kind == "petitioner":
            return await send_to_petitioner(client, self.config, row.body, self.timeout)
        if row.kind == "email":
            body = orjson.loads(row.body)
            subject = str(body.get("message", body.get("event", "哨报通知")))[:120]
            text = orjson.dumps(body, option=orjson.OPT_INDENT_2).decode()
            to = row.url.removeprefix("mailto:")
            return await send_email(self.config, to, subject, text, self.timeout)
        secret = self.vault.open(row.secret_enc) or ""
        return await post_webhook(
            client, row.url, secret, row.body, str(row.delivery_id),
            allowed=self.config.webhook_allowed_hosts,
        )  # fmt: skip

    async def _hold(self, row: Any) -> None:
        """Quiet hours: move the message to the window's end; no attempt is spent."""
        async with self.rt.engine.begin() as conn:
            await conn.execute(
                update(deliveries)
                .where(deliveries.c.delivery_id == row.delivery_id)
                .values(
                    next_attempt_at=self.quiet.next_allowed(self.rt.clock.now()),
                    locked_until=None,
                )
            )

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
        final_failure = False
        if outcome.ok:
            values |= {"status": "delivered", "delivered_at": now}
            await breaker.record_success(conn, row.owner_id, now)
        else:
            if outcome.retry:
                await breaker.record_failure(
                    conn,
                    row.owner_id,
                    now,
                    threshold=self.config.breaker_threshold,
                    cooldown=timedelta(seconds=self.config.breaker_cooldown_seconds),
                    error=outcome.error or "",
                )
            if outcome.retry and attempts < self.max_attempts:
                values["next_attempt_at"] = now + self._delay(attempts)
            else:
                values["status"] = "failed"
                final_failure = True
        # Fenced by our own lease: if it lapsed and another replica claimed the delivery,
        # that replica owns its outcome; this attempt is logged above, but it emits nothing,
        # so a delivery is never reported delivered (or failed) twice.
        owned = await conn.scalar(
            update(deliveries)
            .where(
                and_(
                    deliveries.c.delivery_id == row.delivery_id,
                    deliveries.c.status == "pending",
                    deliveries.c.locked_until == row.locked_until,
                )
            )
            .values(**values)
            .returning(deliveries.c.delivery_id)
        )
        if owned is None:
            log.warning("delivery_lease_lost", delivery_id=str(row.delivery_id))
            return
        if outcome.ok:
            await emit_delivered(conn, row, attempts, now)
        elif final_failure:
            await emit_failed(conn, row, attempts, outcome.error or "", now)

    def _delay(self, attempts: int) -> timedelta:
        base = self.backoff * 2 ** (attempts - 1)
        return timedelta(seconds=min(base, 3600) * (0.5 + random.random()))
