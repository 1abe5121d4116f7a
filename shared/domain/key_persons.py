"""Key persons (重点人员) and persons (一人多号): the pure rules.

The registry is a small lifecycle: a person is *entered* (by the repeat rule at
submission, or by hand with a reason such as 情绪较激动), *reviewed* on a cadence, and
*leaves* with a reason; a person who left may be entered again. Every change is a row
(who, when, why) written by the service; these functions only say what is allowed and
what follows (the next review date, the person a submission's numbers make).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

from shared.domain.errors import InvalidTransition


class KeyPersonState(StrEnum):
    ACTIVE = "active"  # 在库
    LEFT = "left"  # 已出库


class VisitKind(StrEnum):
    HOME_VISIT = "home_visit"  # 上门走访
    HOLIDAY_GREETING = "holiday_greeting"  # 节日慰问
    COUNSELLING = "counselling"  # 心理疏导
    RETURN_VISIT = "return_visit"  # 回访


class ConversionRole(StrEnum):
    """矛盾转化: what a key person became (counts toward the 30 % conversion target)."""

    COUNCIL_MEMBER = "council_member"  # 议事会成员
    SUPERVISOR = "supervisor"  # 监督员
    VOLUNTEER = "volunteer"  # 志愿者


class KeyPersonRouting(BaseModel):
    """What a key person's case means downstream (``key_persons`` in ``rules.yaml``).

    ``community``: ``co_handler`` adds the community office serving the place as a
    co-handler of every new case of a key person (the router, as for a linked handling);
    ``off`` leaves routing alone. Whatever it says, a key person's case is never closed
    for want of a rating, and its 回访 is made by a person: the community office is told
    when the result is in, and no rating link is sent."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    community: Literal["co_handler", "off"] = "co_handler"


VISIT_LABELS = {
    VisitKind.HOME_VISIT: "上门走访",
    VisitKind.HOLIDAY_GREETING: "节日慰问",
    VisitKind.COUNSELLING: "心理疏导",
    VisitKind.RETURN_VISIT: "回访",
}
ROLE_LABELS = {
    ConversionRole.COUNCIL_MEMBER: "议事会成员",
    ConversionRole.SUPERVISOR: "监督员",
    ConversionRole.VOLUNTEER: "志愿者",
}
STATE_LABELS = {KeyPersonState.ACTIVE: "在库", KeyPersonState.LEFT: "已出库"}

# (action, states it may start from) → the state it leads to; ``None``: not in the registry.
_TABLE: dict[str, tuple[frozenset[KeyPersonState | None], KeyPersonState]] = {
    "enter": (frozenset({None, KeyPersonState.LEFT}), KeyPersonState.ACTIVE),
    "review": (frozenset({KeyPersonState.ACTIVE}), KeyPersonState.ACTIVE),
    "leave": (frozenset({KeyPersonState.ACTIVE}), KeyPersonState.LEFT),
    "plan": (frozenset({KeyPersonState.ACTIVE}), KeyPersonState.ACTIVE),
    # a visit or a conversion leaves the state as it is (a person who left is visited too)
    "visit": (frozenset({KeyPersonState.ACTIVE, KeyPersonState.LEFT}), KeyPersonState.ACTIVE),
    "convert": (frozenset({KeyPersonState.ACTIVE, KeyPersonState.LEFT}), KeyPersonState.ACTIVE),
}
_REFUSALS = {
    "enter": "已在重点人员库中 (already a key person)",
    "review": "不在库，无需复核 (not an active key person)",
    "leave": "不在库，无法出库 (not an active key person)",
    "plan": "不在库，不能制定一人一策 (not an active key person)",
    "visit": "未列入重点人员库 (never entered as a key person)",
    "convert": "未列入重点人员库 (never entered as a key person)",
}


def next_state(state: KeyPersonState | None, action: str) -> KeyPersonState:
    """The registry state after ``action`` (a visit or a conversion keeps the state: the
    caller ignores it); :class:`InvalidTransition` with a reason if the current state
    does not allow it."""
    starts, to = _TABLE[action]
    if state not in starts:
        raise InvalidTransition(state.value if state else "none", action, _REFUSALS[action])
    return to


def review_due(on: date, every_days: int) -> date:
    """The next review of a person entered or reviewed ``on`` (rule data: every N days)."""
    return on + timedelta(days=every_days)


def is_review_due(due: date | None, today: date) -> bool:
    return due is not None and due <= today


# --- persons: many numbers, one person --------------------------------------------------


def person_of(identities: Iterable[str], found: Mapping[str, str]) -> tuple[str, list[str]]:
    """The person a submission's identities make, and the other persons it joins to it.

    ``identities``: the submission's identity refs, its petitioner ref first (phone, ID
    number, name + address); ``found``: the person of each identity already linked (an
    identity not in it is a person of its own). The survivor is the person of the first
    identity already linked, else the first identity: so a person's id never changes
    when a new number joins them, and is always a petitioner ref.
    """
    refs = list(dict.fromkeys(identities))
    persons = list(dict.fromkeys(found.get(r, r) for r in refs))
    linked = [found[r] for r in refs if r in found]
    survivor = linked[0] if linked else persons[0]
    return survivor, [p for p in persons if p != survivor]


def split_refusal(person: str, refs: Iterable[str], members: Iterable[str]) -> str | None:
    """Why splitting ``refs`` off ``person`` (whose refs are ``members``) is refused, or
    None. The person's own id stays with them (split the others off instead), and at
    least one ref must stay."""
    wanted, have = set(refs), set(members)
    if not wanted:
        return "请指明要拆出的号码 (name the refs to split off)"
    if not wanted <= have:
        return "号码不属于此人 (a ref does not belong to this person)"
    if person in wanted:
        return "不能拆出此人的主号码，请拆出其余号码 (the person's own ref stays; split the others)"
    return None
