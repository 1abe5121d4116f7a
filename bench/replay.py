"""Benchmark (not a test): real SF 311 requests replayed through intake's HTTP API.

Reads ``../shared/data/sf311_sample_10k.csv`` at run time (``--csv``), maps each row with
``bench/sf311_mapping.yaml`` (channel, category, place, the owner the data names), and
posts the rows to ``POST /v1/cases`` with one channel key per channel, at their arrival
times from ``Opened``, time-compressed (``--speedup X`` or ``--rate N`` cases/s on
average). Open loop: every post is scheduled at its intended time whatever the answers
before it, and latency is counted from that intended time (no coordinated omission).
A private queue hears ``case.dispatched`` / ``case.disputed``. Run against a running
system (``bash deploy/up.sh``):

    uv run python -m bench.replay --rate 20 --limit 1000
    uv run python -m bench.replay --dry-run              # mapping coverage only, no services

Reports throughput, p50/p95/p99 of intake's answer → ``case.dispatched``, how many cases
the router gave to the owner the data names (mapped ``Responsible.Agency`` == our lead),
by category, how many were disputed, and what became of the rows the data calls
transferred or duplicates. ``--fold day`` (the default) lays the sample's arrivals (7½
years) onto one day by time of day, so the replay has the daily shape of real intake.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.common import DecisionProbe, channel_keys, machine, spread
from bench.sf311 import DATA, MAPPING, Mapping, ReplayRow, expected_owner, read_rows
from shared.domain.owners import OwnerDirectory
from shared.domain.routing import RuleSet, route
from shared.domain.taxonomy import Location
from shared.settings import Settings


@dataclass
class Sent:
    row: ReplayRow
    intended: float
    answered: float | None = None
    status: int | None = None
    case_id: str | None = None
    duplicate_of: str | None = None
    suggested: int = 0


@dataclass
class Plan:
    rows: list[ReplayRow]
    offsets: list[float]  # seconds after the start at which each row is sent
    skipped_unmapped: int
    total: int
    speedup: float
    notes: list[str] = field(default_factory=list)


def folded_seconds(row: ReplayRow, fold: str) -> float:
    t = row.opened
    day = t.hour * 3600 + t.minute * 60 + t.second
    if fold == "day":
        return float(day)
    if fold == "week":
        return float(t.weekday() * 86400 + day)
    return t.timestamp()


def plan(args: argparse.Namespace, mapping: Mapping) -> Plan:
    """Which rows go, in arrival order, and when (seconds after the start)."""
    every = list(read_rows(args.csv, mapping))
    chosen = [r for r in every if args.include_unmapped or r.category is not None]
    skipped = len(every) - len(chosen)
    if args.limit:
        chosen = chosen[: args.limit]  # file order is the sample's random order
    chosen.sort(key=lambda r: folded_seconds(r, args.fold))
    times = [folded_seconds(r, args.fold) for r in chosen]
    span = (times[-1] - times[0]) if times else 0.0
    if args.speedup:
        speedup = args.speedup
    else:
        target = len(chosen) / args.rate  # seconds the replay should last
        speedup = span / target if span and target else 1.0
    offsets = [(t - times[0]) / speedup for t in times] if span else [0.0] * len(times)
    if not span and args.rate:
        offsets = [i / args.rate for i in range(len(chosen))]
    return Plan(chosen, offsets, skipped, len(every), speedup)


# --- sending ------------------------------------------------------------------------------


async def replay(args: argparse.Namespace, p: Plan, labels: dict[str, str]) -> None:
    settings = Settings()
    keys = await channel_keys(settings, {r.channel for r in p.rows}, "bench-replay")
    probe = DecisionProbe()
    await probe.start(settings)
    tag = args.run_tag or f"{int(time.time()):x}"
    limits = httpx.Limits(max_connections=args.concurrency)
    sent = [Sent(row, 0.0) for row in p.rows]
    async with httpx.AsyncClient(base_url=args.intake, timeout=60, limits=limits) as http:
        start = time.perf_counter() + 1.0

        async def send(s: Sent, offset: float) -> None:
            s.intended = start + offset
            await asyncio.sleep(max(0.0, s.intended - time.perf_counter()))
            body = s.row.body(f"sf{tag}-{s.row.sf_case_id}", labels)
            headers = {"Authorization": f"Bearer {keys[s.row.channel]}"}
            try:
                resp = await http.post("/v1/cases", json=body, headers=headers)
            except httpx.HTTPError:
                s.status = -1
                return
            s.answered, s.status = time.perf_counter(), resp.status_code
            if resp.status_code in (200, 201):
                answer = resp.json()
                s.case_id = answer["case_id"]
                s.duplicate_of = answer.get("duplicate_of")
                s.suggested = len(answer.get("suggested_duplicates") or [])

        await asyncio.gather(*(send(s, o) for s, o in zip(sent, p.offsets, strict=True)))
        sent_s = time.perf_counter() - start
    waiting = {s.case_id for s in sent if s.case_id and not s.duplicate_of}
    deadline = time.monotonic() + args.timeout
    while probe.heard(waiting) < len(waiting) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    await probe.close()
    report(args, p, sent, probe, start, sent_s)


# --- the report ---------------------------------------------------------------------------


def report(
    args: argparse.Namespace,
    p: Plan,
    sent: list[Sent],
    probe: DecisionProbe,
    start: float,
    sent_s: float,
) -> None:
    directory = OwnerDirectory.load(Settings().owners_file)
    print(f"machine: {machine()}")
    _plan_lines(args, p)
    ok = [s for s in sent if s.case_id]
    statuses = Counter(s.status for s in sent)
    print(
        f"posted: {len(sent)} in {sent_s:.1f} s -> accepted {len(ok)} "
        f"({len(ok) / max(sent_s, 1e-9):.1f} cases/s); HTTP statuses {dict(statuses)}"
    )
    http_ms = [(s.answered - s.intended) * 1000 for s in ok if s.answered]
    print(f"intended send -> intake's answer: {spread(http_ms)}")
    decided = [(s, probe.decisions[s.case_id]) for s in ok if s.case_id in probe.decisions]
    kinds = Counter(d.kind for _, d in decided)
    last = max((d.at for _, d in decided), default=start)
    waited = len([s for s in ok if not s.duplicate_of])
    print(
        f"decided: {len(decided)} of {waited} new cases ({dict(kinds)}; "
        f"{waited - len(decided)} unheard after {args.timeout:.0f} s) in {last - start:.1f} s "
        f"-> {len(decided) / max(last - start, 1e-9):.1f} cases/s end to end"
    )
    dispatched = [(s, d) for s, d in decided if d.kind == "case.dispatched"]
    assert all(s.answered for s, _ in dispatched)
    answer_ms = [(d.at - (s.answered or 0)) * 1000 for s, d in dispatched]
    print(f"answer -> case.dispatched: {spread(answer_ms)}")
    e2e_ms = [(d.at - s.intended) * 1000 for s, d in dispatched]
    print(f"intended send -> case.dispatched: {spread(e2e_ms)}")
    _agreement(args, ok, probe, directory)
    _notes(ok, probe, directory)


def _plan_lines(args: argparse.Namespace, p: Plan) -> None:
    duration = p.offsets[-1] if p.offsets else 0.0
    print(
        f"rows: {len(p.rows)} replayed of {p.total} in the file ({p.skipped_unmapped} with no "
        f"mapped category {'sent as unclassified' if args.include_unmapped else 'skipped'}); "
        f"fold {args.fold}; speedup {p.speedup:,.0f}x -> {duration:.1f} s of arrivals, "
        f"{len(p.rows) / max(duration, 1e-9):.1f} cases/s on average; "
        f"concurrency cap {args.concurrency}"
    )


def _agreement(
    args: argparse.Namespace, ok: list[Sent], probe: DecisionProbe, directory: OwnerDirectory
) -> None:
    """Mapped agency == our routed lead, overall and by the data's top categories."""
    table: dict[str, Counter[str]] = {}
    misses: Counter[tuple[str, str]] = Counter()
    for s in ok:
        d = probe.decisions.get(s.case_id or "")
        want = expected_owner(s.row, directory)
        if d is not None and want is not None and d.lead_owner_id != want:
            misses[(want, str(d.lead_owner_id))] += 1
        c = table.setdefault(s.row.sf_category, Counter())
        c["cases"] += 1
        c["with_owner"] += want is not None
        c["disputed"] += d is not None and d.kind == "case.disputed"
        c["matched"] += d is not None and want is not None and d.lead_owner_id == want
    total = sum(table.values(), Counter())
    print(
        f"owner the data names == our lead: {total['matched']} of {total['with_owner']} cases "
        f"with a mapped agency ({_pct(total['matched'], total['with_owner'])}); "
        f"disputed {total['disputed']}; cases without a mapped agency "
        f"{total['cases'] - total['with_owner']}"
    )
    top = sorted(table.items(), key=lambda kv: -kv[1]["cases"])[: args.top]
    for name, c in top:
        print(
            f"  {name[:34]:34} cases {c['cases']:5}  with agency {c['with_owner']:5}  "
            f"matched {c['matched']:5} ({_pct(c['matched'], c['with_owner'])})  "
            f"disputed {c['disputed']:4}"
        )
    if misses:
        top_misses = ", ".join(f"{w} -> ours {g}: {n}" for (w, g), n in misses.most_common(5))
        print(f"  most frequent disagreements (data's owner -> our lead): {top_misses}")


def _notes(ok: list[Sent], probe: DecisionProbe, directory: OwnerDirectory) -> None:
    moved = [s for s in ok if s.row.transferred]
    known = straight = 0
    for s in moved:
        d = probe.decisions.get(s.case_id or "")
        want = expected_owner(s.row, directory)
        known += want is not None
        straight += d is not None and want is not None and d.lead_owner_id == want
    dups = [s for s in ok if s.row.duplicate]
    linked = sum(1 for s in dups if s.duplicate_of)
    suggested = sum(1 for s in dups if s.suggested)
    print(
        f"'Case Transferred' rows replayed: {len(moved)}, {known} with a mapped final agency; "
        f"our first routing went straight to it: {straight} (no department returns a case "
        f"in the replay, so nothing is re-routed)"
    )
    print(
        f"rows the data calls duplicates: {len(dups)}; linked by intake (duplicate_of): "
        f"{linked}; suggested as possible duplicates: {suggested}; all rows with suggestions: "
        f"{sum(1 for s in ok if s.suggested)}, linked: {sum(1 for s in ok if s.duplicate_of)}"
    )


def _pct(a: int, b: int) -> str:
    return f"{100 * a / b:.1f} %" if b else "n/a"


# --- without services: coverage and what the rules would do -------------------------------


def dry_run(args: argparse.Namespace, mapping: Mapping) -> None:
    settings = Settings()
    rules = RuleSet.load(settings.rules_file)
    directory = OwnerDirectory.load(settings.owners_file)
    rows = list(read_rows(args.csv, mapping))
    if args.limit:
        rows = rows[: args.limit]
    counts: Counter[str] = Counter()
    for row in rows:
        want = expected_owner(row, directory)
        counts["category"] += row.category is not None
        counts["agency"] += want is not None
        if row.category is None or want is None:
            continue
        counts["both"] += 1
        decision = route(rules, directory, category=row.category, location=Location(**row.location))
        counts["disputed"] += decision.lead_owner_id is None or decision.disputed
        counts["matched"] += decision.lead_owner_id == want
    n = len(rows)
    print(f"rows: {n} ({args.csv})")
    print(f"mapped category: {counts['category']} ({_pct(counts['category'], n)})")
    print(f"agency resolves to one of our owners: {counts['agency']} ({_pct(counts['agency'], n)})")
    print(f"both: {counts['both']} ({_pct(counts['both'], n)})")
    print(
        f"of those, the rules (pure route(), no services) lead with the data's owner: "
        f"{counts['matched']} ({_pct(counts['matched'], counts['both'])}); "
        f"no lead or a known dispute: {counts['disputed']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument("--rate", type=float, default=20.0, help="average cases/s (default 20)")
    pace.add_argument("--speedup", type=float, default=None, help="time compression factor")
    parser.add_argument("--limit", type=int, default=None, help="replay the first N rows")
    parser.add_argument("--fold", choices=("day", "week", "none"), default="day")
    parser.add_argument("--csv", type=Path, default=DATA)
    parser.add_argument("--mapping", type=Path, default=MAPPING)
    parser.add_argument("--include-unmapped", action="store_true", help="send them too")
    parser.add_argument("--concurrency", type=int, default=64, help="HTTP connections")
    parser.add_argument("--intake", default="http://127.0.0.1:8001")
    parser.add_argument("--timeout", type=float, default=120.0, help="wait for decisions")
    parser.add_argument("--top", type=int, default=8, help="categories in the breakdown")
    parser.add_argument("--run-tag", default=None, help="external ids sf<tag>-<CaseID>")
    parser.add_argument("--dry-run", action="store_true", help="coverage only, no services")
    args = parser.parse_args()
    mapping = Mapping.load(args.mapping)
    if args.dry_run:
        dry_run(args, mapping)
        return
    labels: dict[str, str] = dict(RuleSet.load(Settings().rules_file).categories)
    asyncio.run(replay(args, plan(args, mapping), labels))


if __name__ == "__main__":
    main()
