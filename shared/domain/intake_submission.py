"""Intake's decision on one submission, without I/O: a replay, another number for an open
case (linked), or a new case, with its status and whether its petitioner becomes a key
person.

The caller reads the facts (:class:`Facts`: what the store says before its transaction,
and what the earlier submissions of the same transaction decided, :class:`Batch`), asks
:func:`decide_submission`, writes the :data:`Decision` and records the answer in the batch
(:meth:`Batch.record`), so a later submission of the same transaction sees it: a replay of
the same number is answered as the first was, a second petition of the same matter by the
same petitioner is linked to the case the first one opened, and a person's earlier
petitions (and registry entry) count toward their next one (:func:`history_now`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from shared.domain.intake_rules import IntakePolicy, KeyPersonPolicy, is_key_person, window_start

# What people read of a case's status, and the order statuses move in.
STATUS_LABELS = {
    "received": "已受理",
    "dispatched": "已派单",
    "acknowledged": "已签收",
    "in_progress": "办理中",
    "resolved": "已办结",
    "closed": "已结案",
    "disputed": "协调中（吹哨）",
}
STATUS_RANK = {s: i for i, s in enumerate(STATUS_LABELS)}
# A petition from a superior office went past the community (越级): its petitioner is a
# key person at once.
OVER_THE_HEAD_CHANNEL = "superior_transfer"
# Hidden inventory made visible: a petition after an explained closure (解释结案) of the
# same category within six months is a rebound (回弹).
REBOUND_WINDOW = timedelta(days=183)

RefKey = tuple[str, str, str]  # (channel, kind, ref); kind: external_id | idempotency_key
TargetKey = tuple[str, str, str]  # (petitioner_ref, category, compound)


@dataclass(frozen=True)
class Submitted:
    """The answer a channel gets (and gets again for a replay of the same number)."""

    case_id: UUID
    status: str
    created: bool
    received_at: datetime
    duplicate_of: UUID | None = None
    suggested: list[UUID] = field(default_factory=list)
    key_person: bool = False
    rebound_of: UUID | None = None
    case_number: str | None = None


@dataclass(frozen=True)
class Target:
    """An open case a submission is another number for."""

    case_id: UUID
    status: str
    received_at: datetime
    reason: Literal["related_ref", "same_petitioner"]
    case_number: str | None = None
    key_person: bool = False  # the case's own flag (what a replay of a linked number says)


@dataclass(frozen=True)
class History:
    """What intake already knows of a person before this submission."""

    registered: bool  # an active key person (any of the person's refs)
    petitions: int  # stored petitions (own cases + linked submissions) within the window
    rebound_of: UUID | None  # an explained closure of the same category within six months


@dataclass
class Batch:
    """What the earlier submissions of one transaction decided, in arrival order."""

    claimed: dict[RefKey, Submitted] = field(default_factory=dict)
    opened: dict[TargetKey, Target] = field(default_factory=dict)  # the first open case
    petitions: dict[str, int] = field(default_factory=dict)  # cases and links, by petitioner
    entered: set[str] = field(default_factory=set)  # persons entered as key persons

    def record(self, facts: Facts, decision: Decision, answer: Submitted) -> None:
        """Remember ``answer`` for a later submission of this transaction."""
        if isinstance(decision, Replay):
            return
        if facts.petitioner is not None:
            self.petitions[facts.petitioner] = self.petitions.get(facts.petitioner, 0) + 1
        if decision.entry is not None:
            self.entered.add(decision.entry.person)
        if isinstance(decision, Link):
            t = decision.target
            again = Submitted(
                t.case_id, t.status, False, t.received_at, duplicate_of=t.case_id,
                key_person=t.key_person, case_number=t.case_number,
            )  # fmt: skip
        else:
            again = Submitted(
                answer.case_id, answer.status, False, answer.received_at,
                key_person=answer.key_person, case_number=answer.case_number,
            )  # fmt: skip
            key = facts.target_key
            if decision.status == "received" and key is not None and key not in self.opened:
                self.opened[key] = Target(
                    answer.case_id, answer.status, answer.received_at, "same_petitioner",
                    answer.case_number, answer.key_person,
                )  # fmt: skip
        for kind, ref in facts.refs:
            self.claimed[(facts.channel, kind, ref)] = again


@dataclass(frozen=True)
class Facts:
    """One submission and what is known when it is decided.

    ``known``: the stored answers of its numbers (read before the transaction's first
    submission). ``named``: the open case its ``related_refs`` name that is the same
    matter, if any. ``same_petitioner``: the petitioner's oldest open case of this
    category and compound in the window, as stored before the transaction. ``history``:
    the person's as stored before the transaction, whose petitions in it are then counted
    from the batch (a person of one identity, linked to nobody); or, when
    ``history_read_after`` (the store read again once the batch's rows were written), as
    it is.
    """

    channel: str
    refs: tuple[tuple[str, str], ...]  # (kind, ref) in order: external_id, idempotency_key
    now: datetime
    category: str
    compound: str | None
    petitioner: str | None  # the petitioner's keyed ref (None: anonymous)
    batch: Batch
    known: dict[RefKey, Submitted] = field(default_factory=dict)
    person: str | None = None
    mediated: bool = False
    mediation_outcome: str | None = None
    rebound_of: UUID | None = None  # given by the channel (an earlier case of theirs)
    named: Target | None = None
    same_petitioner: Target | None = None
    history: History = field(default_factory=lambda: History(False, 0, None))
    history_read_after: bool = False

    @property
    def target_key(self) -> TargetKey | None:
        if self.petitioner is None or self.compound is None:
            return None
        return (self.petitioner, self.category, self.compound)


@dataclass(frozen=True)
class Entry:
    """The key-person registry entry a submission makes (reason as stored)."""

    person: str
    reason: str
    petitions: int


@dataclass(frozen=True)
class Replay:
    answer: Submitted


@dataclass(frozen=True)
class Link:
    """Another number for an open case: no case, no dispatch (``case.duplicate_linked``)."""

    target: Target
    key_person: bool
    entry: Entry | None


@dataclass(frozen=True)
class NewCase:
    status: str
    status_detail: dict[str, Any] | None
    rebound_of: UUID | None
    key_person: bool
    entry: Entry | None

    @property
    def dispatched(self) -> bool:
        """A case settled on the spot is stored closed and never sent to the router."""
        return self.status == "received"


Decision = Replay | Link | NewCase


def replay_of(facts: Facts) -> Submitted | None:
    """The answer already given to the first of the submission's numbers, if any."""
    for kind, ref in facts.refs:
        key = (facts.channel, kind, ref)
        if (found := facts.batch.claimed.get(key) or facts.known.get(key)) is not None:
            return found
    return None


def decide_submission(facts: Facts, policy: IntakePolicy) -> Decision:
    """Replay, link or new case, in that order (see the module's docstring)."""
    if (answer := replay_of(facts)) is not None:
        return Replay(answer)
    flagged, entry = key_person_call(
        facts.person,
        history_now(facts),
        policy.key_persons,
        over_the_head=facts.channel == OVER_THE_HEAD_CHANNEL,
    )
    if (target := link_target(facts, policy)) is not None:
        return Link(target, flagged, entry)
    rebound = facts.rebound_of or facts.history.rebound_of
    status, detail = opening_status(facts.mediated, facts.mediation_outcome, rebound)
    return NewCase(status, detail, rebound, flagged, entry)


def history_now(facts: Facts) -> History:
    """The person's history with the transaction's earlier petitions counted: those of
    the same petitioner, and a registry entry one of them made."""
    known, ref = facts.history, facts.petitioner
    if facts.history_read_after or ref is None:
        return known
    return History(
        known.registered or ref in facts.batch.entered,
        known.petitions + facts.batch.petitions.get(ref, 0),
        known.rebound_of,
    )


def link_target(facts: Facts, policy: IntakePolicy) -> Target | None:
    """The open case this submission is another number for: the one it names (same
    matter), else the petitioner's oldest open case of the category and compound in the
    window, this transaction's earlier ones included."""
    if facts.named is not None:
        return facts.named
    key = facts.target_key
    days = policy.duplicates.petitioner_window_days
    if key is None or days == 0:
        return None
    since = window_start(facts.now, days)
    found = [t for t in (facts.same_petitioner, facts.batch.opened.get(key)) if t is not None]
    found = [t for t in found if t.received_at >= since]
    return min(found, key=lambda t: t.received_at) if found else None


def opening_status(
    mediated: bool, outcome: str | None, rebound_of: UUID | None
) -> tuple[str, dict[str, Any] | None]:
    """A new case's status and its detail: closed if mediated on the spot (a patrol
    finding settled there and then), else received; a rebound names the case before."""
    detail: dict[str, Any] | None = (
        {"close_kind": "mediated_on_site", "outcome": outcome} if mediated else None
    )
    if rebound_of is not None:
        detail = (detail or {}) | {"rebound_of": str(rebound_of)}
    return ("closed" if mediated else "received"), detail


def key_person_call(
    person: str | None, known: History, policy: KeyPersonPolicy, *, over_the_head: bool
) -> tuple[bool, Entry | None]:
    """Whether the person is a key person once this petition counts, and the registry
    entry that makes them one. Two ways in: repeated petitions within the window (since
    they last left, if they did), or a petition that went past the community (越级)."""
    if person is None:
        return False, None
    if known.registered:
        return True, None
    petitions = known.petitions + 1
    if not over_the_head and not is_key_person(petitions, policy):
        return False, None
    reason = (
        "over_the_head: petitioned past the community (越级, superior transfer)"
        if over_the_head
        else f"repeat_petitions: {petitions} in {policy.window_days} days"
    )
    return True, Entry(person, reason, petitions)
