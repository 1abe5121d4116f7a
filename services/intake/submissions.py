"""Group commit for submissions: requests arriving together share one transaction.

Every submission still runs :func:`services.intake.service.submit_case` in full and in
arrival order, so a later one sees what an earlier one of the same batch decided (a replay
of the same number, a second petition of the same person: kept in the unit's ``batch``,
see :mod:`shared.domain.intake_submission`). What they share is the
transaction, and its reads and writes (:mod:`services.intake.unit`): one ``BEGIN``, one
statement per kind of read and per table written, one outbox insert and one ``COMMIT``
(one WAL flush) for the batch. Each caller is answered only after that commit — nothing
is acknowledged that a crash could lose. While one batch commits the next gathers, so a
lone request waits for nobody and batches grow with the load.

If anything in a batch fails (a deadlock between two batches' advisory locks, a number
claimed meanwhile by another transaction, a bad row) the batch is rolled back and each
submission runs again in its own transaction, so one bad request gets its own error and
costs the others only time.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy.exc import DBAPIError

from services.intake import signals
from services.intake.matching import advisory_locks
from services.intake.records import RefConflict, Submitted
from services.intake.schemas import CaseCreate
from services.intake.service import lock_keys, plan, submit_case
from services.intake.tables import outbox
from services.intake.unit import Unit
from shared.contracts.envelope import Envelope
from shared.db.outbox import write_events

log = structlog.get_logger(__name__)
_ATTEMPTS = 3


def _transient(exc: DBAPIError | RefConflict) -> bool:
    """A deadlock, a serialization failure or a number claimed meanwhile: the transaction
    may simply run again (the number is then answered as a replay)."""
    if isinstance(exc, RefConflict):
        return True
    return getattr(exc.orig, "sqlstate", None) in ("40P01", "40001")


@dataclass
class _Pending:
    channel: str
    body: CaseCreate
    idempotency_key: str | None
    done: asyncio.Future[tuple[Submitted, bool]]


class Overloaded(Exception):
    """More submissions are waiting than intake will queue: answer 503, the channel retries."""


class SubmissionBatcher:
    """Overload sheds load instead of building a queue: past ``max_waiting`` waiting
    submissions a new one is refused at once (503 with Retry-After), and one whose caller
    has gone (the HTTP request was cancelled) is dropped before it runs — it was never
    answered, so its channel retries it with the same numbers."""

    def __init__(
        self, runtime: Any, *, max_batch: int = 64, workers: int = 2, max_waiting: int = 2000
    ) -> None:
        self._runtime = runtime
        self._max_waiting = max_waiting
        self._max_batch = max_batch
        self._workers = workers
        self._pending: list[_Pending] = []
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def submit(
        self, *, channel: str, body: CaseCreate, idempotency_key: str | None
    ) -> tuple[Submitted, bool]:
        """The answer and whether an event was staged; returns after the commit."""
        if len(self._pending) >= self._max_waiting:
            raise Overloaded(f"{len(self._pending)} submissions waiting")
        done: asyncio.Future[tuple[Submitted, bool]] = asyncio.get_running_loop().create_future()
        self._pending.append(_Pending(channel, body, idempotency_key, done))
        self._wake.set()
        self._ensure_workers()
        return await done

    async def submit_many(
        self, *, channel: str, bodies: list[CaseCreate]
    ) -> list[tuple[Submitted, bool] | BaseException]:
        """A batch of submissions of one request, in order; each answer or its error.

        All or none are queued: past ``max_waiting`` the whole batch is refused."""
        if len(self._pending) + len(bodies) > self._max_waiting:
            raise Overloaded(f"{len(self._pending)} submissions waiting, {len(bodies)} more")
        loop = asyncio.get_running_loop()
        items = [_Pending(channel, body, None, loop.create_future()) for body in bodies]
        self._pending.extend(items)
        self._wake.set()
        self._ensure_workers()
        return list(await asyncio.gather(*(p.done for p in items), return_exceptions=True))

    def _ensure_workers(self) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._work(), name=f"intake-submissions-{i}")
                for i in range(self._workers)
            ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def _work(self) -> None:
        while True:
            while not self._pending:
                self._wake.clear()
                await self._wake.wait()
            batch = [p for p in self._pending[: self._max_batch] if not p.done.done()]
            del self._pending[: self._max_batch]
            if not batch:
                continue
            try:
                if len(batch) == 1:
                    await self._alone(batch[0])
                else:
                    await self._together(batch)
            except asyncio.CancelledError:
                for p in batch:
                    if not p.done.done():
                        p.done.cancel()
                raise

    async def _together(self, batch: list[_Pending]) -> None:
        try:
            results, events = await self._transaction(batch)
        except Exception as exc:
            log.info("submission_batch_failed", size=len(batch), error=repr(exc)[:300])
            for p in batch:
                await self._alone(p)
            return
        self._answer(batch, results, events)

    async def _alone(self, p: _Pending) -> None:
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                results, events = await self._transaction([p])
                break
            except (DBAPIError, RefConflict) as exc:
                if attempt < _ATTEMPTS and _transient(exc):
                    log.info("submission_retried", attempt=attempt, error=repr(exc)[:200])
                    continue
                if not p.done.done():
                    p.done.set_exception(exc)
                return
            except Exception as exc:
                if not p.done.done():
                    p.done.set_exception(exc)
                return
        self._answer([p], results, events)

    def _answer(
        self,
        batch: list[_Pending],
        results: list[tuple[Submitted, bool]],
        events: list[Envelope],
    ) -> None:
        if events:
            self._runtime.poke_relay()
        for p, result in zip(batch, results, strict=True):
            if not p.done.done():
                p.done.set_result(result)

    async def _transaction(
        self, batch: list[_Pending]
    ) -> tuple[list[tuple[Submitted, bool]], list[Envelope]]:
        """The submissions in one transaction, in order: their answers and their events."""
        runtime = self._runtime
        deps = runtime.deps
        planned = [
            plan(deps, p.channel, p.body, p.idempotency_key, runtime.clock.now()) for p in batch
        ]
        results: list[tuple[Submitted, bool]] = []
        events: list[Envelope] = []
        pairs = {pair for p in planned for pair in p.alerts}
        async with runtime.engine.begin() as conn:
            standing = await signals.standing_alerts(conn, sorted(pairs))
            await advisory_locks(conn, [k for p in planned for k in lock_keys(deps, p, standing)])
            # A window standing now stands to the commit: its counts are skipped unlocked.
            unit = Unit(conn, deps.policy, alerted_until=standing)
            await unit.prefetch(planned)
            for item in planned:
                results.append(await submit_case(unit, deps=deps, planned=item, stage=events))
            await unit.flush()
            await write_events(conn, outbox, events)
        return results, events
