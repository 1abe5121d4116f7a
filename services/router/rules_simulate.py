"""Past cases routed again under a new rules file (``shaobao rules simulate``,
:mod:`services.router.cli`).

The comparison itself is pure (:mod:`shared.domain.rule_simulation`); this module reads
the router's cases in one read-only transaction through a server-side cursor, ``batch``
rows at a time, so a million stored cases never sit in memory at once (the tally keeps
counters and a few examples). What was *stored* is the router's **first** routing of each
case: its lowest ``router.routing_decisions`` row, i.e. the lead and co-handlers it
dispatched to on arrival (none when the case went to the whistle). Later returns (退单),
redispatches and a lead named after a whistle are not counted: they are people's decisions,
not the rules'.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Select, func, select, text, true
from sqlalchemy.ext.asyncio import AsyncConnection

from services.router.handlers.case_received import EARLY_WARNING
from services.router.tables import cases, routing_decisions
from shared.cli.db import shared_now, transaction
from shared.domain.display import case_label
from shared.domain.routing import Location
from shared.domain.rule_simulation import Destination, PastCase, Routing, Tally, compare
from shared.domain.rule_simulation_report import build_report, report_text
from shared.settings import Settings

PROGRESS_EVERY = 10_000  # rows between two progress lines on stderr
Progress = Callable[[str], None]


def _first_routing() -> Any:
    decision = routing_decisions.c.decision
    return (
        select(
            decision["lead_owner_id"].astext.label("lead"),
            decision["co_handler_ids"].label("co_handlers"),
            decision["disputed"].as_boolean().label("disputed"),
        )
        .where(routing_decisions.c.case_id == cases.c.case_id)
        .order_by(routing_decisions.c.seq)
        .limit(1)
        .lateral("first_routing")
    )


def past_cases_query(since_at: datetime) -> Select[Any]:
    """Cases received since ``since_at``, oldest first, each with its first routing."""
    first = _first_routing()
    return (
        select(
            cases.c.case_id, cases.c.case_number, cases.c.category, cases.c.location,
            cases.c.channel, first.c.lead, first.c.co_handlers, first.c.disputed,
        )
        .select_from(cases.outerjoin(first, true()))
        .where(cases.c.received_at >= since_at)
        .order_by(cases.c.received_at, cases.c.case_id)
    )  # fmt: skip


def past_case(row: Any) -> PastCase | None:
    """The row as the simulation needs it; None when its stored place no longer reads."""
    try:
        location = Location(**(row.location or {}))
    except ValidationError:
        return None
    stored = None
    if row.disputed is not None or row.lead is not None:
        stored = Destination.of(row.lead, row.co_handlers or [], disputed=bool(row.disputed))
    return PastCase(
        case_number=case_label(row.case_number, row.case_id),
        category=row.category,
        location=location,
        stored=stored,
        community_convenes=row.channel == EARLY_WARNING,
    )


async def stream_cases(
    conn: AsyncConnection, since_at: datetime, batch: int
) -> AsyncIterator[list[Any]]:
    """The rows, ``batch`` at a time, through a server-side cursor."""
    result = await conn.stream(past_cases_query(since_at), execution_options={"yield_per": batch})
    async for rows in result.partitions():
        yield list(rows)


async def run_simulation(
    settings: Settings,
    current: Routing,
    new: Routing,
    *,
    since: timedelta,
    examples: int,
    batch: int = 1000,
) -> Tally:
    """Route every case received within ``since`` under both rule sets and tally them, in
    one read-only transaction (the test clock's offset counts when it is enabled)."""
    tally = Tally(examples=examples)
    async with transaction(settings) as conn:
        await conn.execute(text("SET TRANSACTION READ ONLY"))
        since_at = await shared_now(conn, settings) - since
        await tally_cases(conn, tally, current, new, since_at=since_at, batch=batch)
    return tally


async def tally_cases(
    conn: AsyncConnection,
    tally: Tally,
    current: Routing,
    new: Routing,
    *,
    since_at: datetime,
    batch: int,
    progress: Progress | None = None,
) -> None:
    """Feed the cases received since ``since_at`` to ``tally``, ``batch`` rows at a time,
    saying how far it got every :data:`PROGRESS_EVERY` rows (stderr by default)."""
    say = progress or _stderr
    total = await conn.scalar(
        select(func.count()).select_from(cases).where(cases.c.received_at >= since_at)
    )
    seen, next_report = 0, PROGRESS_EVERY
    async for rows in stream_cases(conn, since_at, batch):
        for row in rows:
            case = past_case(row)
            if case is None:
                tally.skipped += 1
            else:
                tally.add(compare(case, current, new))
        seen += len(rows)
        if seen >= next_report:
            say(f"已读取 {seen}/{total} 件 (read)")
            next_report = seen + PROGRESS_EVERY


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def report(
    tally: Tally, current: Routing, new: Routing, *, rules_file: str, since: str, as_json: bool
) -> str:
    """The report as text for people, or as JSON (``--json``)."""
    built = build_report(
        tally,
        names=lambda o: new.owners.name_of(o) if new.owners.get(o) else current.owners.name_of(o),
        labels=current.rules.categories | new.rules.categories,
        header={
            "rules_file": rules_file,
            "current_version": current.rules.version,
            "new_version": new.rules.version,
            "since": since,
        },
    )
    return built.model_dump_json(indent=2) if as_json else report_text(built)
