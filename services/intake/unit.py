"""A transaction's submissions, read together and written together (a unit of work).

A group commit holds many submissions. Run one by one, each cost about seven round trips:
its numbers, its petitioner's stored cases (same matter? history?), and the writes of its
numbers, its petitioner and its case. Here those reads are made for every submission up
front, one statement each over arrays (:meth:`Unit.prefetch`), and those writes wait in the
unit until :meth:`Unit.flush`, one array statement per table, before the commit.

The decisions are made submission by submission, in arrival order, by a pure function
(:func:`shared.domain.intake_submission.decide_submission`) from the facts the unit gives
(:meth:`Unit.facts`) and what the earlier submissions of the transaction decided (its
``batch``): a replay of a number claimed earlier in the transaction, a second petition
of one matter by one petitioner, and the petitions (and registry entry) of a person of one
identity that nothing links are answered from there without a statement. Where a fact
could depend on what an earlier submission wrote and is not kept in the batch, the unit
flushes first and reads it from the database as it was before batching:

- a person of several identities (or linked) or their history, when an earlier submission
  saw one of their identities or their person;
- a submission naming related numbers;
- an alert count, unless its window's alert already stands (``alerted_until``: read before
  the locks, or under the alert's advisory lock; an alert is never taken back);
- a duplicate suggestion search (anonymous submissions).

So batching never changes a decision. A number another transaction claims meanwhile (a
resend racing its first send) surfaces at the flush as
:class:`~services.intake.records.RefConflict`; the caller rolls back and runs the
submissions again, each alone, and the number is then answered as a replay.

The caller holds every submission's advisory locks (petitioner, alert places) before
:meth:`Unit.prefetch`, so what it reads about those petitioners stays true to the commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake import case_numbers, matching, persons, records, signals
from services.intake.deps import IntakeDeps
from services.intake.records import RefKey, Submitted
from services.intake.schemas import CaseCreate
from services.intake.tables import cases, duplicate_links
from shared.db.batch import insert_rows
from shared.domain.intake_rules import IntakePolicy
from shared.domain.intake_submission import Batch, Facts, Target, TargetKey, replay_of


@dataclass
class Planned:
    """One submission as the unit sees it before it runs."""

    channel: str
    body: CaseCreate
    refs: list[tuple[str, str]]  # (kind, ref) in order: external_id, idempotency_key
    now: datetime
    where: dict[str, str | None]  # the location's full path per level (``places``)
    petitioner: str | None  # the petitioner's keyed ref (None: anonymous)
    alerts: list[tuple[str, str]]  # the (rule, place) pairs it counts toward
    # (kind, ref) of every identity given, the petitioner's first (一人多号, ``persons``)
    identities: list[persons.Identity] = field(default_factory=list)

    @property
    def identity_refs(self) -> tuple[str, ...]:
        return tuple(ref for _, ref in self.identities)

    @property
    def target_key(self) -> TargetKey | None:
        """(petitioner, category, compound): what a second petition of one matter shares."""
        compound = self.where["compound"]
        if self.petitioner is None or compound is None:
            return None
        return (self.petitioner, self.body.code, compound)


@dataclass
class Unit:
    conn: AsyncConnection
    policy: IntakePolicy
    alerted_until: dict[tuple[str, str], datetime] = field(default_factory=dict)
    batch: Batch = field(default_factory=Batch)  # what earlier submissions decided
    _known: dict[RefKey, Submitted] = field(default_factory=dict)
    _targets: dict[tuple[TargetKey, datetime], Target] = field(default_factory=dict)
    _histories: dict[tuple[signals.HistoryKey, datetime], signals.History] = field(
        default_factory=dict
    )
    _people: set[str] = field(default_factory=set)  # refs and persons this transaction saw
    _linked: set[str] = field(default_factory=set)  # refs and persons it linked
    _folded: bool = False  # it joined persons (rare): every person is read again
    _found: dict[str, persons.Known] = field(default_factory=dict)
    _links: list[dict[str, Any]] = field(default_factory=list)
    _duplicates: list[dict[str, Any]] = field(default_factory=list)
    _claims: list[tuple[RefKey, UUID, bool]] = field(default_factory=list)
    _petitioners: dict[str, dict[str, Any]] = field(default_factory=dict)
    _cases: list[dict[str, Any]] = field(default_factory=list)
    _numbers: dict[date, list[str]] = field(default_factory=dict)

    async def prefetch(self, planned: list[Planned]) -> None:
        """Read what every submission will ask, and draw a case number for each."""
        self._numbers = await case_numbers.draw(self.conn, [p.now for p in planned])
        keys = [(p.channel, kind, ref) for p in planned for kind, ref in p.refs]
        self._known = await records.existing_cases(self.conn, keys)
        targets: list[tuple[TargetKey, datetime]] = []
        people: list[tuple[signals.HistoryKey, datetime]] = []
        for p in planned:
            if p.petitioner is None:
                continue
            if (key := p.target_key) is not None:
                targets.append((key, p.now))
            people.append(((p.identity_refs, p.body.code), p.now))
        self._found = await persons.known(
            self.conn, [ref for p in planned for ref in p.identity_refs]
        )
        duplicates = self.policy.duplicates
        self._targets = await matching.same_petitioner_targets(self.conn, duplicates, targets)
        self._histories = await signals.histories(self.conn, self.policy.key_persons, people)

    # -- reads ---------------------------------------------------------------------------
    async def facts(self, planned: Planned) -> tuple[Facts, list[UUID]]:
        """What decides this submission, and the open cases it names that are another
        matter (to suggest). A replay needs only its numbers: nothing else is read."""
        body = planned.body
        key = planned.target_key
        facts = Facts(
            planned.channel, tuple(planned.refs), planned.now, body.code,
            planned.where["compound"], planned.petitioner, self.batch, known=self._known,
            mediated=body.mediated_on_site, mediation_outcome=body.mediation_outcome,
            rebound_of=body._rebound_of,
            same_petitioner=self._targets.get((key, planned.now)) if key else None,
        )  # fmt: skip
        if replay_of(facts) is not None:
            return facts, []
        person = await self.person(planned)
        named, others = await self.named(body)
        history, read_after = await self.history(planned)
        facts = replace(
            facts, person=person, named=named, history=history, history_read_after=read_after
        )
        return facts, others

    async def named(self, body: CaseCreate) -> tuple[Target | None, list[UUID]]:
        """The open case this submission names that is the same matter, and the others
        it names (see ``matching``); read after a flush, as they may be this
        transaction's."""
        if not body.related_refs:
            return None, []
        await self.flush()
        return await matching.named_target(self.conn, body)

    async def history(self, planned: Planned) -> tuple[signals.History, bool]:
        """What intake knew of the person before this transaction (see ``signals``), and
        whether it was read again after the transaction's earlier rows were written (a
        person they touched, beyond what the batch counts: :meth:`_alone`)."""
        refs, now = planned.identity_refs, planned.now
        key = ((refs, planned.body.code), now)
        if refs and (self._alone(refs) or not self._touches(refs)) and key in self._histories:
            return self._histories[key], False
        if refs:
            await self.flush()
        known = await signals.history(self.conn, self.policy.key_persons, refs, key[0][1], now)
        return known, True

    async def person(self, planned: Planned) -> str | None:
        """The person this submission's identities make (一人多号); the links it makes
        wait for the flush, persons it joins are folded at once (rare)."""
        refs = planned.identity_refs
        if not refs:
            return None
        if self._alone(refs):
            return refs[0]
        found = self._found
        if self._touches(refs):
            await self.flush()
            found = await persons.known(self.conn, refs)
        link = persons.linking(planned.identities, found, planned.now)
        self._links.extend(link.rows)
        self._linked.update([link.person, *(row["ref"] for row in link.rows)])
        if link.fold:
            self._folded = True
            await persons.fold(
                self.conn, link.person, link.fold, at=planned.now, actor="submission",
                reason="同一次提交的号码属于同一人 (numbers met on one submission)",
            )  # fmt: skip
        return link.person

    def _alone(self, refs: tuple[str, ...]) -> bool:
        """A person of one identity that nothing links, before this transaction or in it:
        the person is the identity itself, and its history is the one read up front with
        this transaction's earlier petitions of it counted (see
        :func:`shared.domain.intake_submission.history_now`), so neither is read again."""
        if len(refs) != 1 or self._folded or refs[0] in self._linked:
            return False
        return (k := self._found.get(refs[0])) is not None and not k.linked

    def _touches(self, refs: tuple[str, ...]) -> bool:
        """Whether an earlier submission of this transaction saw one of these identities
        or their persons: what was read up front may be stale for them."""
        people = self._people
        return any(
            r in people or ((k := self._found.get(r)) is not None and k.person in people)
            for r in refs
        )

    # -- writes, pending until flush -----------------------------------------------------
    def store_petitioner(
        self, deps: IntakeDeps, body: CaseCreate
    ) -> tuple[str | None, dict[str, Any]]:
        """The petitioner's ref and the contact this submission gave (sealed, by column).

        The person's record is written at the flush only if no earlier submission made it
        (the first one of this transaction wins too); the contact goes with the case or
        link this submission makes (see :mod:`services.intake.records`)."""
        contact = records.sealed_contact(deps, body)
        ref = records.petitioner_of(deps, body)
        if ref is not None and ref not in self._petitioners:
            self._petitioners[ref] = contact
        return ref, contact

    def seen(self, planned: Planned, person: str | None) -> None:
        """This person's answer is decided: a later submission of theirs reads again."""
        self._people.update(planned.identity_refs)
        if person is not None:
            self._people.add(person)

    def claim(
        self, channel: str, refs: list[tuple[str, str]], case_id: UUID, *, linked: bool
    ) -> None:
        for kind, ref in refs:
            self._claims.append(((channel, kind, ref), case_id, linked))

    async def case_number(self, now: datetime) -> str:
        """The next number drawn for ``now``'s day (one more is drawn if the prefetch had
        none left, as when a submission runs outside a prefetch)."""
        day = case_numbers.local_day(now)
        if not self._numbers.get(day):
            self._numbers.update(await case_numbers.draw(self.conn, [now]))
        return self._numbers[day].pop(0)

    def add_case(self, row: dict[str, Any]) -> None:
        self._cases.append(row)

    def add_duplicate(self, row: dict[str, Any]) -> None:
        """Another number's submission linked to an open case (``duplicate_links``)."""
        self._duplicates.append(row)

    async def flush(self) -> None:
        """Write what is pending: petitioners, persons' links, cases, linked submissions,
        then numbers (which may conflict)."""
        people, rows, claims, links = self._petitioners, self._cases, self._claims, self._links
        duplicates = self._duplicates
        self._petitioners, self._cases, self._claims, self._links = {}, [], [], []
        self._duplicates = []
        await records.insert_petitioners(self.conn, people)
        await persons.write_links(self.conn, links)
        await insert_rows(self.conn, cases, rows)
        await insert_rows(self.conn, duplicate_links, duplicates)
        await records.claim_all(self.conn, claims)
