"""Early warnings (预警) and key persons (重点人员) at submission: what the store says.

The rules are pure (:mod:`shared.domain.intake_alerts`: which (rule, place) a case counts
toward and what the counts raise; :mod:`shared.domain.intake_submission`: who becomes a
key person); this module reads the counts and the histories they decide from, and stores
the alerts. Both count rows that concurrent submissions are inserting, so each takes an advisory
lock first (per rule and place; per petitioner) and the counts see every committed case:
an alert is raised exactly once per (rule, place, window), backed by a unique constraint.
A (rule, place) whose window's alert already stands (read before the locks:
:func:`standing_alerts`) counts nothing and takes no lock.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import BindParameter, Select, bindparam, case, func, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake.tables import alerts, cases
from shared.contracts.events import AlertRaised
from shared.domain.intake_alerts import WindowCase, raised_alert, rules_to_count, window_since
from shared.domain.intake_rules import AlertRule, IntakePolicy, KeyPersonPolicy, window_start
from shared.domain.intake_submission import REBOUND_WINDOW, History
from shared.ids import new_id

__all__ = ["History", "HistoryKey", "histories", "history", "raise_alerts", "standing_alerts"]

# (the submission's identity refs, petitioner ref first; category)
HistoryKey = tuple[tuple[str, ...], str]
# One row of arrays per submission (a group commit reads all its petitioners at once).
# A person is every ref linked to any of the submission's identities (一人多号), and the
# identities themselves (the links this submission makes are not written yet). A person
# who left the registry counts again from the day they left.
_HISTORY = text(
    """
    WITH ids AS (
      SELECT * FROM unnest(CAST(:id_ns AS bigint[]), CAST(:id_refs AS text[])) AS i(n, ref)
    ), person AS (
      SELECT n, array_agg(DISTINCT ref) AS refs FROM (
        SELECT n, ref FROM ids
        UNION ALL
        SELECT i.n, l2.ref FROM ids i
          JOIN intake.person_links l1 ON l1.ref = i.ref
          JOIN intake.person_links l2 ON l2.person_ref = l1.person_ref
      ) x GROUP BY n
    )
    SELECT t.n, k.registered,
      (SELECT count(*) FROM intake.cases c
        WHERE c.petitioner_ref = ANY(p.refs) AND c.received_at >= k.since) AS own,
      (SELECT count(*) FROM intake.duplicate_links d
        WHERE d.petitioner_ref = ANY(p.refs) AND d.linked_at >= k.since) AS linked,
      (SELECT c.case_id FROM intake.cases c
        WHERE c.petitioner_ref = ANY(p.refs) AND c.category = t.category AND c.status = 'closed'
          AND c.status_detail ->> 'close_kind' = 'explained' AND c.status_at >= t.rebound_since
        ORDER BY c.status_at DESC LIMIT 1) AS rebound_of
    FROM unnest(CAST(:categories AS text[]), CAST(:sinces AS timestamptz[]),
                CAST(:rebound_sinces AS timestamptz[]))
      WITH ORDINALITY AS t(category, since, rebound_since, n)
    JOIN person p ON p.n = t.n
    CROSS JOIN LATERAL (
      SELECT coalesce(bool_or(kp.state = 'active'), false) AS registered,
             greatest(t.since, max(kp.left_at) FILTER (WHERE kp.state = 'left')) AS since
      FROM intake.key_persons kp WHERE kp.petitioner_ref = ANY(p.refs)
    ) k
    """
)


async def history(
    conn: AsyncConnection,
    policy: KeyPersonPolicy,
    identities: tuple[str, ...],
    category: str,
    now: datetime,
) -> History:
    """The caller holds the identities' advisory locks; this petition is not stored yet."""
    if not identities:
        return History(False, 0, None)
    key = ((identities, category), now)
    return (await histories(conn, policy, [key]))[key]


async def histories(
    conn: AsyncConnection, policy: KeyPersonPolicy, keys: list[tuple[HistoryKey, datetime]]
) -> dict[tuple[HistoryKey, datetime], History]:
    """:func:`history` of each (person, category) at its submission time, in one
    statement (keyed by the time too: two submissions of one key count different
    windows)."""
    if not keys:
        return {}
    pairs = [(n, ref) for n, ((refs, _), _) in enumerate(keys, 1) for ref in refs]
    rows = await conn.execute(
        _HISTORY,
        {
            "id_ns": [n for n, _ in pairs],
            "id_refs": [ref for _, ref in pairs],
            "categories": [k[1] for k, _ in keys],
            "sinces": [window_start(now, policy.window_days) for _, now in keys],
            "rebound_sinces": [now - REBOUND_WINDOW for _, now in keys],
        },
    )
    return {
        keys[r.n - 1]: History(bool(r.registered), int(r.own) + int(r.linked), r.rebound_of)
        for r in rows
    }


_STANDING = text(
    "SELECT t.rule_id, t.place, (SELECT max(a.window_end) FROM intake.alerts a"
    " WHERE a.rule_id = t.rule_id AND a.place = t.place)"
    " FROM unnest(CAST(:rules AS text[]), CAST(:places AS text[])) AS t(rule_id, place)"
)


async def standing_alerts(
    conn: AsyncConnection, pairs: list[tuple[str, str]]
) -> dict[tuple[str, str], datetime]:
    """The end of the last alerted window of each (rule, place) that has one, in one
    statement, read before any lock. An alert is never taken back, so a window that has
    its alert at this read still has it at the commit: a submission inside it needs
    neither that place's lock nor a count. Under a burst of one compound's complaints
    (the elevator is out: dozens of calls in an hour) this keeps concurrent
    transactions from queueing on that compound's lock once its alert is raised."""
    if not pairs:
        return {}
    rows = await conn.execute(
        _STANDING, {"rules": [r for r, _ in pairs], "places": [p for _, p in pairs]}
    )
    return {(rule, place): end for rule, place, end in rows if end is not None}


class Counting(Protocol):
    """What the alert counts need from the transaction's unit of work."""

    alerted_until: dict[tuple[str, str], datetime]  # (rule, place) → its window's end

    async def flush(self) -> None: ...


async def raise_alerts(
    conn: AsyncConnection,
    *,
    unit: Counting,
    policy: IntakePolicy,
    owners: Any,
    category: str,
    location: dict[str, Any],
    places: dict[str, str | None],
    now: datetime,
) -> list[AlertRaised]:
    """Alerts this (already stored) case tips over their threshold; one per window.

    Which rules count, and what their counts raise, is decided by
    :mod:`shared.domain.intake_alerts`; this reads the counts and stores the alert.
    The caller holds the locks of ``lock_keys`` (see ``matching.advisory_locks``), so
    a (rule, place) whose window already has its alert keeps it to the commit: later
    submissions of the transaction skip it without a statement (``unit.alerted_until``).
    Any other answer counts the stored cases, so the unit's pending ones are written first.
    """
    raised = []
    for rule, place in rules_to_count(policy, category, places, unit.alerted_until, now):
        await unit.flush()
        alert, until = await _evaluate(conn, rule, place, location, owners, now)
        if until is not None:
            unit.alerted_until[(rule.id, place)] = until
        if alert is not None:
            raised.append(alert)
    return raised


@functools.cache
def _alert_counts(level: str) -> Select[Any]:
    """One statement per place level, built once: the last window's end of a (rule, place)
    and, only when that window is over, the count of matching cases and distinct
    petitioners since (``[cases, petitioners]``; NULL while the window's alert stands, so
    the common case reads no case at all)."""
    last_q = (
        select(func.max(alerts.c.window_end))
        .where(alerts.c.rule_id == bindparam("rule_id"), alerts.c.place == bindparam("place"))
        .scalar_subquery()
    )
    floor: BindParameter[datetime] = bindparam("floor", type_=cases.c.received_at.type)
    now: BindParameter[datetime] = bindparam("now", type_=cases.c.received_at.type)
    count_q = (
        select(
            postgresql.array(
                [func.count(cases.c.case_id), func.count(func.distinct(cases.c.petitioner_ref))]
            )
        )
        .where(*_window(level, floor, last_q))
        .scalar_subquery()
    )
    return select(last_q, case((last_q > now, None), else_=count_q))


def _window(level: str, floor: Any, last_q: Any) -> list[Any]:
    return [
        cases.c[level] == bindparam("place"),
        cases.c.received_at >= func.greatest(floor, func.coalesce(last_q, floor)),
        cases.c.channel != "early_warning",
        cases.c.category.like(bindparam("like"), escape="\\"),
    ]


async def _evaluate(
    conn: AsyncConnection,
    rule: AlertRule,
    place: str,
    location: dict[str, Any],
    owners: Any,
    now: datetime,
) -> tuple[AlertRaised | None, datetime | None]:
    """The alert raised, if any, and the end of the window already alerted, if known."""
    like = rule.like_pattern()
    if like is None:
        last_q = (
            select(func.max(alerts.c.window_end))
            .where(alerts.c.rule_id == rule.id, alerts.c.place == place)
            .scalar_subquery()
        )
        last_end = await conn.scalar(select(last_q))
    else:
        # One statement for the common answer ("window already alerted" or "not yet"):
        # the last window's end and the counts since, without a row per case.
        params = {
            "rule_id": rule.id, "place": place, "floor": now - rule.window, "like": like,
            "now": now,
        }  # fmt: skip
        last_end, counts = (await conn.execute(_alert_counts(rule.level), params)).one()
        if counts is not None and not rule.reached(cases=counts[0], petitioners=counts[1]):
            return None, None
    if last_end is not None and last_end > now:
        return None, last_end  # this window already has its alert
    in_window = [
        cases.c[rule.level] == place,
        cases.c.received_at >= window_since(rule, now, last_end),
        cases.c.channel != "early_warning",  # linked handlings count toward no alert
    ]
    rows = (
        await conn.execute(
            select(cases.c.case_id, cases.c.category, cases.c.petitioner_ref, cases.c.received_at)
            .where(*in_window)
            .order_by(cases.c.received_at, cases.c.case_id)
        )
    ).all()
    found = [WindowCase(r.case_id, r.category, r.petitioner_ref, r.received_at) for r in rows]
    event = raised_alert(rule, place, found, location, owners, new_id())
    if event is None:
        return None, None
    values = event.model_dump(mode="json") | {
        "alert_id": event.alert_id,
        "window_start": event.window_start,
        "window_end": event.window_end,
        "raised_at": now,
    }
    stmt = pg_insert(alerts).values(**values).on_conflict_do_nothing().returning(alerts.c.alert_id)
    if (await conn.execute(stmt)).first() is None:
        return None, None
    return event, event.window_end
