"""A claimed batch fired set-based: the same rules, a handful of statements per batch.

:class:`StagedFire` is the :class:`~services.escalation.fire_context.FireContext` of the
scanner's batch path. :meth:`StagedFire.load` tries every case's ladder lock in one
statement, without waiting: a case whose lock another replica holds (it is firing a row of
that case) is left for the next pass, its rows still armed and due, so two replicas never
wait on each other in a circle (a replica holding a claimed ladder row while waiting for
its case's lock, the other holding the lock while waiting for the row). It then reads
every locked case's ladder rows (``FOR UPDATE``), overdue clocks and the acknowledge state
of the progress clocks' dispatches, one query each. The rules then run row by row in claim
order, exactly as on the per-row path, against that picture: a row fired earlier in the
batch is overdue for the next row of its case, a ladder armed earlier is the case's
running ladder, a claimed row already moved by an earlier one is stale. Writes are kept and
:meth:`StagedFire.write_staged` sends them as array statements (:mod:`services.escalation.staged_sql`):
the claimed rows' updates fenced on their claimed version (a row that moved meanwhile fails
the batch), the joins on escalations already open, the new escalations and ladder rows.

Report-in rows are not fired here (their whistle's escalation is read back by the next
miss): the scanner fires them alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from uuid import UUID

from sqlalchemy import Row

from services.escalation import staged_sql
from services.escalation.climb import BASE_CLOCKS
from services.escalation.fire_context import FireContext
from services.escalation.staged_sql import Change

ALONE_KINDS = frozenset({"report_in"})


@dataclass
class StagedFire(FireContext):
    changes: dict[UUID, Change] = field(default_factory=dict)
    new_rows: dict[UUID, dict[str, Any]] = field(default_factory=dict)
    new_escalations: list[dict[str, Any]] = field(default_factory=list)
    joins: dict[UUID, str] = field(default_factory=dict)
    ladders: dict[UUID, dict[UUID, SimpleNamespace]] = field(default_factory=dict)
    ladder_ids: dict[UUID, SimpleNamespace] = field(default_factory=dict)
    overdue: dict[UUID, list[Any]] = field(default_factory=dict)
    acks: dict[UUID, str] = field(default_factory=dict)
    counted: list[tuple[str, str, float | None]] = field(default_factory=list)

    async def load(self, expiring: list[Row[Any]]) -> set[UUID]:
        """Lock and read what the ``expiring`` rows' cases need (reminders need nothing);
        returns the cases whose lock another replica holds (their rows wait a pass)."""
        cases = sorted({r.case_id for r in expiring})
        if not cases:
            return set()
        busy = await staged_sql.lock_cases(self.conn, cases)
        cases = [c for c in cases if c not in busy]
        for found in await staged_sql.ladder_rows(self.conn, cases):
            self._keep_ladder(SimpleNamespace(**found._mapping))
        for found in await staged_sql.overdue_rows(self.conn, cases, BASE_CLOCKS):
            self.overdue.setdefault(found.case_id, []).append(found)
        ready = [r for r in expiring if r.kind == "progress" and r.case_id not in busy]
        self.acks = await staged_sql.acknowledge_states(self.conn, [r.dispatch_id for r in ready])
        return busy

    def count(self, outcome: str, kind: str, late: float | None) -> None:
        self.counted.append((outcome, kind, late))

    async def fence(self, row: Row[Any]) -> bool:
        change = self.changes.setdefault(row.deadline_id, Change())
        if change.bump or change.values.get("state", "armed") != "armed":
            return False  # an earlier row of the batch moved it, as the per-row fence sees
        change.values["updated_at"] = self.now
        change.bump, change.expect = 1, row.version
        return True

    async def set(self, row: Any, **values: Any) -> None:
        await self.update_deadline(row.deadline_id, values, bump=False)
        if "state" not in values or row.kind not in BASE_CLOCKS:
            return
        overdue = self.overdue.setdefault(row.case_id, [])
        overdue[:] = [r for r in overdue if r.deadline_id != row.deadline_id]
        if values["state"] == "fired":  # not a held progress clock (disarmed)
            overdue.append(row)

    async def update_deadline(
        self, deadline_id: UUID, values: dict[str, Any], *, bump: bool
    ) -> None:
        inserted = self.new_rows.get(deadline_id)
        if inserted is not None:
            inserted.update(values)
            inserted["version"] += int(bump)
        else:
            change = self.changes.setdefault(deadline_id, Change())
            change.values.update(values)
            change.bump += int(bump)
        ladder = self.ladder_ids.get(deadline_id)
        if ladder is not None:
            ladder.__dict__.update(values)

    async def insert_deadline(self, values: dict[str, Any]) -> None:
        row = values | {"version": 1}
        self.new_rows[row["deadline_id"]] = row
        self._keep_ladder(SimpleNamespace(**row))

    def _keep_ladder(self, row: SimpleNamespace) -> None:
        self.ladders.setdefault(row.case_id, {})[row.deadline_id] = row
        self.ladder_ids[row.deadline_id] = row

    async def acknowledge_state(self, dispatch_id: UUID | None) -> str | None:
        return None if dispatch_id is None else self.acks.get(dispatch_id)

    async def lock_case(self, case_id: UUID) -> None:
        """Taken for every case of the batch by :meth:`load`."""

    async def ladder_row(self, case_id: UUID) -> Any:
        armed = [r for r in self.ladders.get(case_id, {}).values() if r.state == "armed"]
        return max(armed, key=lambda r: r.level, default=None)

    async def overdue_clocks(self, case_id: UUID) -> list[Any]:
        return list(self.overdue.get(case_id, []))

    async def insert_escalation(self, values: dict[str, Any]) -> None:
        self.new_escalations.append(dict(values))

    async def join_open_escalation(self, case_id: UUID, note: str) -> None:
        """An escalation of this batch is the latest (its ``created_at`` is now); else the
        one already open, at the flush."""
        mine = [e for e in self.new_escalations if e["case_id"] == case_id]
        for escalation in mine:
            escalation["reason"] += note
        if not mine:
            self.joins[case_id] = self.joins.get(case_id, "") + note

    async def set_backlog_policy(self, case_id: UUID, policy: dict[str, Any]) -> None:
        for row in list(self.ladders.get(case_id, {}).values()):
            if row.kind == "backlog" and row.state == "armed":
                await self.update_deadline(row.deadline_id, {"policy": policy}, bump=False)

    async def write_staged(self) -> None:
        """Send the batch's writes; raises when a claimed row moved since its claim."""
        await staged_sql.update_rows(self.conn, self.now, self.changes)
        await staged_sql.join_escalations(self.conn, self.joins)
        await staged_sql.insert_all(self.conn, list(self.new_rows.values()), self.new_escalations)
        for outcome, kind, late in self.counted:
            super().count(outcome, kind, late)
