"""Property-based: random department actions over a routed case never break the invariants.

The small simulator below plays the router's part the way the router service does:
route, one dispatch per owner, reroute on a lead's return (twice → disputed, the whistle),
resolve the case once the lead and every co-handler have, ask for feedback, reopen once
on "unsatisfied". Hypothesis drives departments, timers and petitioners at random.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.errors import InvalidTransition
from shared.domain.lifecycle import (
    CASE_TRANSITIONS,
    DISPATCH_TRANSITIONS,
    OPEN_DISPATCH_STATES,
    CaseState,
    DispatchRole,
    DispatchState,
    case_resolution_ready,
    fire_case,
    fire_dispatch,
    resolution_context,
)
from shared.domain.owners import OwnerDirectory
from shared.domain.routing import Location, RoutingDecision, RuleSet, route

C, D = CaseState, DispatchState
CONFIG = Path(__file__).resolve().parents[2] / "config"
RULES = RuleSet.load(CONFIG / "rules.yaml")
OWNERS = OwnerDirectory.load(CONFIG / "owners.yaml")
ROWS = {
    "case": {(r["source"], r["trigger"], r["dest"]) for r in CASE_TRANSITIONS},
    "dispatch": {(r["source"], r["trigger"], r["dest"]) for r in DISPATCH_TRANSITIONS},
}
SCENARIOS = [
    ("property.elevator", Location(compound="d01.s01.c01.g01.k01")),
    ("animal.stray_dog", Location(compound="d01.s02.c01.g01.k01")),
    ("environment.cooking_fume", Location(compound="d01.s01.c01.g02.k01")),
    ("fire.ebike_charging", Location(compound="d01.s01.c01.g01.k01")),
    ("neighbour.dispute", Location(community="d01.s02.c01")),
    ("housing.group_rental", Location(street="d01.s01")),
    ("weather.too_hot", Location()),
]
DEPARTMENT = ["acknowledge", "start_progress", "request_extension", "resolve", "return_dispatch"]


@dataclass
class Dispatch:
    owner: str
    role: DispatchRole
    state: DispatchState = D.PENDING


@dataclass
class CaseSim:
    category: str
    location: Location
    state: CaseState = C.RECEIVED
    dispatches: list[Dispatch] = field(default_factory=list)
    decisions: list[RoutingDecision] = field(default_factory=list)
    seen: list[tuple[str, Any, str, Any]] = field(default_factory=list)
    returns: int = 0
    second_handling: bool = False

    def start(self) -> None:
        self.case("triage")
        decision = self.route()
        if decision.lead_owner_id is None or decision.disputed:
            self.case("dispute")
            return
        self.dispatch_to(decision, decision.owner_ids())
        self.case("dispatch")

    def route(self) -> RoutingDecision:
        excluded = {d.owner for d in self.dispatches if d.state is D.RETURNED}
        decision = route(RULES, OWNERS, category=self.category, location=self.location,
                         exclude_owners=excluded)  # fmt: skip
        self.decisions.append(decision)
        return decision

    def dispatch_to(self, decision: RoutingDecision, owners: list[str]) -> None:
        for owner in owners:
            lead = owner == decision.lead_owner_id
            self.dispatches.append(
                Dispatch(owner, DispatchRole.LEAD if lead else DispatchRole.CO_HANDLER)
            )

    def case(self, trigger: str, **ctx: Any) -> None:
        new = fire_case(self.state, trigger, **ctx)
        self.seen.append(("case", self.state, trigger, new))
        self.state = new

    def department(self, index: int, action: str, code: str | None) -> None:
        live = [d for d in self.dispatches if d.state in OPEN_DISPATCH_STATES]
        if not live or self.state not in (C.DISPATCHED, C.IN_PROGRESS):
            return
        d = live[index % len(live)]
        ctx: dict[str, Any] = {"reason_code": code} if action == "return_dispatch" else {}
        if action == "request_reconsideration":
            ctx = {"designated_lead": False}
        try:
            new = fire_dispatch(d.state, action, **ctx)
        except InvalidTransition:
            return
        self.seen.append(("dispatch", d.state, action, new))
        d.state = new
        self.react(d, action)

    def react(self, d: Dispatch, action: str) -> None:
        if action == "return_dispatch":
            if d.role is DispatchRole.LEAD:
                self.reroute()
            return
        if action == "start_progress" and self.state is C.DISPATCHED:
            self.case("start_progress")
        ctx = resolution_context((x.role, x.state) for x in self.dispatches)
        if case_resolution_ready((x.role, x.state) for x in self.dispatches):
            self.case("resolve", **ctx)
            self.case("request_feedback")

    def reroute(self) -> None:
        self.case("reroute")
        self.returns += 1
        decision = self.route()
        if self.returns > 1 or decision.lead_owner_id is None or decision.disputed:
            for d in self.dispatches:
                if d.state in OPEN_DISPATCH_STATES:
                    d.state = fire_dispatch(d.state, "cancel")
            self.case("dispute")  # ping-pong or nobody left: the whistle, not another hop
            return
        open_owners = {d.owner for d in self.dispatches if d.state in OPEN_DISPATCH_STATES}
        self.dispatch_to(decision, [o for o in decision.owner_ids() if o not in open_owners])
        self.case("redispatch")

    def work(self, index: int) -> None:
        """A diligent department: the next step of acknowledge → progress → resolve."""
        live = [d for d in self.dispatches if d.state in OPEN_DISPATCH_STATES]
        if live:
            d = live[index % len(live)]
            nxt = {D.PENDING: "acknowledge", D.ACKNOWLEDGED: "start_progress"}
            self.department(index, nxt.get(d.state, "resolve"), None)

    def expire(self, index: int) -> None:
        live = [d for d in self.dispatches if d.state in OPEN_DISPATCH_STATES]
        if live:
            d = live[index % len(live)]
            new = fire_dispatch(d.state, "expire")
            self.seen.append(("dispatch", d.state, "expire", new))
            d.state = new

    def petitioner(self, rating: str | None) -> None:
        if self.state is not C.AWAITING_FEEDBACK:
            return
        if rating is None:
            self.case("close", kind="no_feedback")
        elif rating != "unsatisfied":
            self.case("close", kind="resolved", rating=rating)
        elif self.second_handling:
            self.case("close", kind="explained", rating=rating, second_handling=True)
        else:
            self.case("reopen", rating=rating)
            self.second_handling = True
            last = self.decisions[-1]
            self.dispatch_to(last, last.owner_ids())
            self.case("redispatch")

    def check(self) -> None:
        for kind, source, trigger, dest in self.seen:
            assert (source, trigger, dest) in ROWS[kind], (kind, source, trigger, dest)
        lead_open = any(
            d.role is DispatchRole.LEAD and d.state in OPEN_DISPATCH_STATES for d in self.dispatches
        )
        if self.state in (C.RESOLVED, C.AWAITING_FEEDBACK, C.CLOSED):
            assert not lead_open, "closed or resolved while the lead dispatch is open"
            assert case_resolution_ready((d.role, d.state) for d in self.dispatches)
        allowed = {o for dec in self.decisions for o in dec.owner_ids()}
        assert {d.owner for d in self.dispatches} <= allowed, "dispatch outside the decisions"


STEP = st.one_of(
    st.tuples(st.just("dept"), st.integers(0, 5), st.sampled_from(DEPARTMENT),
              st.sampled_from(["not_our_jurisdiction", "wrong_location", None])),
    st.tuples(st.just("work"), st.integers(0, 5)),
    st.tuples(st.just("work"), st.integers(0, 5)),
    st.tuples(st.just("expire"), st.integers(0, 5)),
    st.tuples(st.just("rate"), st.sampled_from(["satisfied", "basically_satisfied", "unsatisfied", None])),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(scenario=st.sampled_from(SCENARIOS), steps=st.lists(STEP, max_size=60))
def test_random_department_actions_keep_the_case_invariants(
    scenario: tuple[str, Location], steps: list[tuple[Any, ...]]
) -> None:
    sim = CaseSim(*scenario)
    sim.start()
    sim.check()
    for step in steps:
        if step[0] == "dept":
            sim.department(step[1], step[2], step[3])
        elif step[0] == "work":
            sim.work(step[1])
        elif step[0] == "expire":
            sim.expire(step[1])
        else:
            sim.petitioner(step[1])
        sim.check()


CTX = st.fixed_dictionaries({
    "lead_resolved": st.booleans(), "co_handlers_reported": st.booleans(),
    "kind": st.sampled_from(["resolved", "explained", "referred", "no_feedback", "mediated_on_site", "x"]),
    "rating": st.sampled_from(["satisfied", "basically_satisfied", "unsatisfied", None]),
    "second_handling": st.booleans(), "target_open": st.booleans(),
    "reason_code": st.sampled_from(["not_our_jurisdiction", "market_matter", None, "nonsense"]),
    "designated_lead": st.booleans(),
})  # fmt: skip
TRIGGERS = sorted({r["trigger"] for r in CASE_TRANSITIONS + DISPATCH_TRANSITIONS} | {"fly"})


@settings(max_examples=500, deadline=None)
@given(
    state=st.sampled_from([*CaseState, *DispatchState]),
    trigger=st.sampled_from(TRIGGERS),
    ctx=CTX,
)
def test_any_action_either_follows_a_table_row_or_is_refused_with_a_reason(
    state: CaseState | DispatchState, trigger: str, ctx: dict[str, Any]
) -> None:
    kind = "case" if isinstance(state, CaseState) else "dispatch"
    fire = fire_case if kind == "case" else fire_dispatch
    try:
        new = fire(state, trigger, **ctx)  # type: ignore[operator]
    except InvalidTransition as exc:
        assert exc.reason and exc.state == state.value and exc.trigger == trigger
        return
    assert (state, trigger, new) in ROWS[kind]
