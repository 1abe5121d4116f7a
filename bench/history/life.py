"""The planned life of one stored case: every instant and id its rows need.

:func:`plan_case` decides, with the real calendar, policy and ladder, when a case arrived,
when the router decided, when each dispatch was delivered, acknowledged, reported on and
resolved, and how the case closed. Lives:

* ``satisfied`` / ``explained``: every action before any reminder was due, rated by the
  channel, closed with the lead's outcome;
* ``no_feedback``: the same, closed by the router's sweep when the feedback window ended;
* ``late``: the lead acknowledged only after its acknowledge clock fired (reminder unless
  held past the due time by quiet hours, then one step up the ladder), then as above;
* ``open``: still in hand with an approved extension (延期) and a recent progress report,
  so its resolve and keep-in-touch clocks are armed days ahead; co-handlers have reported.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from uuid import UUID

from bench.history.world import (
    CHANNEL_WEIGHTS,
    HOUR_WEIGHTS,
    LIVES,
    Template,
    World,
    uuid7_at,
    within,
)
from services.escalation.ladder import CLOCK_CN, remind_at
from services.escalation.policy import delay_of, quiet_of
from shared.domain.owners import KIND_LABELS, OwnerKind

SHANGHAI = timedelta(hours=8)
MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class Window:
    """Arrivals fall in ``[start, end)``; ``now`` is when the seeding runs."""

    start: datetime
    end: datetime
    now: datetime
    open_share: float
    feedback_window: timedelta
    tag: str


@dataclass
class Dispatch:
    dispatch_id: UUID
    owner_id: str
    role: str
    name: str
    acknowledge_due: datetime
    resolve_due: datetime
    progress_due: datetime | None
    delivery_id: UUID
    delivered: datetime
    acknowledged: datetime | None = None
    progressed: list[datetime] = field(default_factory=list)
    resolved: datetime | None = None
    events: dict[str, UUID] = field(default_factory=dict)  # event type → id, per dispatch
    progress_events: list[UUID] = field(default_factory=list)  # one per progress report


@dataclass
class Reminder:
    clock: str
    at: datetime
    due: datetime
    event_id: UUID


@dataclass
class Climb:
    """One step up the ladder after the lead's acknowledge clock fired."""

    fired: datetime
    to_owner: str
    level: str
    index: int
    due: datetime
    reason: str
    escalation_id: UUID
    deadline_id: UUID
    event_id: UUID


@dataclass
class Extension:
    extension_id: UUID
    requested: datetime
    decided: datetime
    old_due: datetime
    new_due: datetime
    working_days: int
    decided_by: str
    events: dict[str, UUID] = field(default_factory=dict)


@dataclass
class Case:
    """Every writer in :mod:`bench.history.rows` reads it; none changes it."""

    n: int
    case_id: UUID
    t: Template
    life: str
    channel: str
    external_id: str | None
    petitioner_ref: str | None
    received_by: str | None
    title: str
    description: str
    received: datetime
    decided: datetime
    dispatches: list[Dispatch]
    events: dict[str, UUID] = field(default_factory=dict)  # case-level event type → id
    reminders: list[Reminder] = field(default_factory=list)
    climb: Climb | None = None
    extension: Extension | None = None
    resolved: datetime | None = None
    closed: datetime | None = None
    rating: str | None = None
    outcome: str = "resolved"

    @property
    def lead(self) -> Dispatch:
        return self.dispatches[0]

    @property
    def close_kind(self) -> str | None:
        if self.closed is None:
            return None
        return "no_feedback" if self.life == "no_feedback" else self.outcome

    @property
    def key_person(self) -> bool:
        """越级: a superior office's transfer puts its petitioner in the registry at once."""
        return self.channel == "superior_transfer" and self.petitioner_ref is not None

    def ev(self, kind: str, at: datetime, rng: random.Random) -> None:
        self.events[kind] = uuid7_at(at, rng)


def plan_case(n: int, rng: random.Random, w: World, win: Window) -> Case:
    t = rng.choices(w.templates, w.weights)[0]
    life = (
        "open"
        if rng.random() < win.open_share
        else rng.choices(list(LIVES), list(LIVES.values()))[0]
    )
    received = _arrival(rng, win, recent=life == "open")
    channel = rng.choices(list(CHANNEL_WEIGHTS), list(CHANNEL_WEIGHTS.values()))[0]
    anonymous = channel == "grid_patrol" or rng.random() < 0.3
    decided = received + timedelta(seconds=rng.uniform(0.2, 1.5))
    title, description = _text(t, rng)
    case = Case(
        n=n,
        case_id=uuid7_at(received, rng),
        t=t,
        life=life,
        channel=channel,
        external_id=None if channel in ("walk_in", "grid_patrol") else f"h{win.tag}-{n:08d}",
        petitioner_ref=None if anonymous else f"p_{rng.getrandbits(128):032x}",
        received_by=f"w{rng.randrange(1, 40):03d}" if channel == "walk_in" else None,
        title=title,
        description=description,
        received=received,
        decided=decided,
        dispatches=[_dispatch(w, decided, o, role, name, rng) for o, role, name in t.owners],
    )
    case.ev("case.received", received, rng)
    case.ev("case.dispatched", decided, rng)
    _act(case, w, win, rng)
    return case


def _text(t: Template, rng: random.Random) -> tuple[str, str]:
    """A title and description of realistic length (no real person's words)."""
    building, unit, days = rng.randrange(1, 40), rng.randrange(1, 7), rng.randrange(1, 30)
    return (
        f"{t.label}：{building}号楼{unit}单元",
        f"{building}号楼{unit}单元居民反映{t.label}，已持续{days}天，"
        "多次沟通未果，请相关单位尽快到现场处理并答复。",
    )


def _arrival(rng: random.Random, win: Window, *, recent: bool) -> datetime:
    """A day in the window, an hour of the Shanghai working day's shape (``HOUR_WEIGHTS``)."""
    first = (win.start + SHANGHAI).date()
    days = max(1, (win.end - win.start).days)
    day = first + timedelta(days=rng.randrange(max(1, days - 10) if recent else 1, days))
    hour = rng.choices(range(24), HOUR_WEIGHTS)[0]
    local = datetime.combine(day, time(hour, rng.randrange(60), rng.randrange(60)))
    at = local.replace(tzinfo=UTC) - SHANGHAI + timedelta(microseconds=rng.randrange(10**6))
    return min(max(at, win.start), win.end)


def _dispatch(
    w: World, at: datetime, owner: str, role: str, name: str, rng: random.Random
) -> Dispatch:
    """A dispatch made at ``at`` (the router's decision), its clocks from that instant."""
    return Dispatch(
        dispatch_id=uuid7_at(at, rng),
        owner_id=owner,
        role=role,
        name=name,
        acknowledge_due=at,  # set by _clocks
        resolve_due=at,
        progress_due=None,
        delivery_id=uuid7_at(at, rng),
        delivered=at + timedelta(milliseconds=rng.uniform(80, 900)),
    )


def _act(case: Case, w: World, win: Window, rng: random.Random) -> None:
    for d in case.dispatches:
        _clocks(case, d, w)
    if case.life == "late" and not _late_ack(case, w, rng):
        case.life = "satisfied"
    if case.life == "open" and not _plan_extension(case, w, win, rng):
        case.life = "satisfied"
    lead = case.lead
    if lead.acknowledged is None:
        lead.acknowledged = within(case.decided, _ack_bound(case, lead, w), rng, 0.05, 0.9)
    end = _work(case, lead, w, rng)
    for co in case.dispatches[1:]:
        bound = min(end, _remind(case, co.progress_due or co.resolve_due, w))
        co.acknowledged = within(case.decided, _ack_bound(case, co, w), rng, 0.05, 0.9)
        if bound <= co.acknowledged:
            co.acknowledged = within(case.decided, bound, rng, 0.1, 0.5)
        co.resolved = within(co.acknowledged, bound, rng, 0.1, 0.9)
    for d in case.dispatches:
        d.progressed.sort()
        d.events["dispatch.delivered"] = uuid7_at(d.delivered, rng)
        d.events["dispatch.acknowledged"] = uuid7_at(d.acknowledged or case.decided, rng)
        d.progress_events = [uuid7_at(p, rng) for p in d.progressed]
        if d.resolved:
            d.events["dispatch.resolved"] = uuid7_at(d.resolved, rng)
    if case.life != "open":
        _close(case, win, rng)


def _clocks(case: Case, d: Dispatch, w: World) -> None:
    t = case.t
    d.acknowledge_due = w.calendar.add(case.decided, t.acknowledge)
    d.resolve_due = w.calendar.add(case.decided, t.resolve)
    d.progress_due = w.calendar.add(case.decided, t.keep) if t.keep else None


def _remind(case: Case, due: datetime, w: World, start: datetime | None = None) -> datetime:
    """The nominal reminder instant of a clock (its due time when there is none)."""
    return remind_at(start or case.decided, due, w.policy.reminder_share) or due


def _ack_bound(case: Case, d: Dispatch, w: World) -> datetime:
    """Acknowledge before any of the dispatch's reminders would go out."""
    dues = [d.acknowledge_due, d.resolve_due, *([d.progress_due] if d.progress_due else [])]
    return min(_remind(case, due, w) for due in dues)


def _work(case: Case, lead: Dispatch, w: World, rng: random.Random) -> datetime:
    """The lead's progress report and result; returns the instant co-handlers must beat."""
    assert lead.acknowledged is not None
    resolve_remind = _remind(case, lead.resolve_due, w)
    if case.t.keep and lead.progress_due:
        bound = min(_remind(case, lead.progress_due, w), resolve_remind)
        p = within(lead.acknowledged, max(bound, lead.acknowledged + MINUTE), rng, 0.1, 0.9)
        lead.progressed.append(p)
        again = w.calendar.add(p, case.t.keep)
        resolve_remind = min(resolve_remind, _remind(case, again, w, start=p))
        start = p
    else:
        start = lead.acknowledged
    if case.life == "open":
        return max(start, resolve_remind)
    lead.resolved = within(start, max(resolve_remind, start + MINUTE), rng, 0.1, 0.9)
    return lead.resolved


def _late_ack(case: Case, w: World, rng: random.Random) -> bool:
    """The lead's acknowledge clock fires first: reminder, one step up, a late 签收."""
    lead, t = case.lead, case.t
    others = [_remind(case, lead.resolve_due, w)]
    if lead.progress_due:
        others.append(_remind(case, lead.progress_due, w))
    if t.rung is None or lead.acknowledge_due >= min(others):
        return False
    _reminder(
        case, "acknowledge", lead.acknowledge_due, _remind(case, lead.acknowledge_due, w), rng
    )
    fired = lead.acknowledge_due + timedelta(seconds=rng.uniform(0.2, 1.5))
    owner, kind, index = t.rung
    due = w.calendar.add(fired, delay_of(t.escalation_policy, kind))
    target, source = w.owners.get(owner), w.owners.get(lead.owner_id)
    reason = (
        f"{CLOCK_CN['acknowledge']}时限已过（应于 {lead.acknowledge_due.isoformat()}），"
        f"{source.name if source else lead.owner_id} 未办，升级至{KIND_LABELS[OwnerKind(kind)]}"
        f"「{target.name if target else owner}」督办，须于 {due.isoformat()} 前推动"
    )
    case.climb = Climb(
        fired, owner, kind, index, due, reason,
        uuid7_at(fired, rng), uuid7_at(fired, rng), uuid7_at(fired, rng),
    )  # fmt: skip
    lead.acknowledged = within(fired, min([due, *others]), rng, 0.02, 0.5)
    return True


def _held(case: Case, at: datetime) -> datetime:
    """When a reminder due at ``at`` goes out: held past the policy's quiet hours."""
    quiet = quiet_of(case.t.escalation_policy)
    return quiet.next_allowed(at) if quiet.contains(at) else at


def _reminder(case: Case, clock: str, due: datetime, at: datetime, rng: random.Random) -> None:
    """A reminder at ``at``, held past quiet hours (and dropped when held past ``due``)."""
    at = _held(case, at)
    if at >= due:
        return
    case.reminders.append(Reminder(clock, at, due, uuid7_at(at, rng)))


def _plan_extension(case: Case, w: World, win: Window, rng: random.Random) -> bool:
    """An approved 延期 that moves the lead's result days past ``now``; False if none fits."""
    lead = case.lead
    ack = within(case.decided, _ack_bound(case, lead, w), rng, 0.05, 0.9)
    requested = within(ack, _remind(case, lead.resolve_due, w), rng, 0.3, 0.7)
    decided = within(requested, _remind(case, lead.resolve_due, w), rng, 0.1, 0.9)
    needed = w.calendar.working_time_between(lead.resolve_due, win.now) / timedelta(days=1)
    days = math.ceil(needed) + rng.randint(1, 5)
    if days > 30:
        return False
    new_due = w.calendar.add_working_days(lead.resolve_due, days)
    if new_due <= win.now + timedelta(hours=12):
        return False
    moved = _remind(case, new_due, w, start=decided)
    if win.now <= _held(case, moved) <= win.now + timedelta(hours=12):
        # its reminder would fire soon after seeding (a reminder due in the quiet hours
        # before ``now`` goes out when they end, after it): nothing seeded is due
        return False
    parent = w.owners.get(lead.owner_id)
    boss = parent.parent if parent and parent.parent else "d01-xfb"
    case.extension = Extension(
        uuid7_at(requested, rng), requested, decided, lead.resolve_due, new_due, days,
        f"supervisor:{boss}",
        {k: uuid7_at(decided, rng) for k in ("requested", "decided")},
    )  # fmt: skip
    lead.acknowledged = ack
    if moved < win.now:
        _reminder(case, "resolve", new_due, moved, rng)
    if case.t.keep:  # a recent progress report keeps the keep-in-touch clock ahead
        lead.progressed.append(win.now - timedelta(hours=rng.uniform(1, 20)))
    lead.resolve_due = new_due
    return True


def _close(case: Case, win: Window, rng: random.Random) -> None:
    lead = case.lead
    assert lead.resolved is not None
    case.resolved = lead.resolved
    case.outcome = "explained" if case.life == "explained" else "resolved"
    case.ev("case.resolved", case.resolved, rng)
    latest = win.now - timedelta(hours=1)
    closed = case.resolved + win.feedback_window + timedelta(seconds=rng.uniform(1, 60))
    if case.life == "no_feedback" and closed > latest:
        case.life = "satisfied"
    if case.life != "no_feedback":
        case.rating = (
            "basically_satisfied" if case.life == "explained" or rng.random() < 0.3 else "satisfied"
        )
        closed = case.resolved + timedelta(hours=rng.uniform(1, 72))
        if closed > latest:
            closed = within(case.resolved, latest, rng, 0.1, 0.9)
        case.ev("feedback.received", closed - timedelta(seconds=1), rng)
    case.closed = closed
    case.ev("case.closed", closed, rng)
    if closed > win.now:
        raise ValueError(f"case {case.n} would close in the future: end the history earlier")
