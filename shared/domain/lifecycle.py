"""The lifecycle of a case (诉求) and of each dispatch (派单), as data.

One ``transitions.Machine`` per aggregate type, built once per process from the tables
below (``CASE_TRANSITIONS``, ``DISPATCH_TRANSITIONS``); ``docs/state-diagram.md`` is
rendered from the same tables. Each call binds a throwaway ``_Carrier`` holding the
stored state, fires, and unbinds it (PERFORMANCE.md: a Machine per case is 24-78 KiB).
A refused action is never a silent no-op: it raises :class:`InvalidTransition` with a
reason a clerk can read, which the API turns into a 409.

Case::

  received → triaged → dispatched → in_progress → resolved → awaiting_feedback → closed
  received → awaiting_triage → triaged   a free-text case the model is unsure of, or whose
                              place is unknown, waits for a dispatcher (待派单) to decide
  disputed → awaiting_triage  a whistle that could convene no one goes to the dispatcher
  dispatched|in_progress → rerouting → …  a dispatcher reclassifies it (改派: matter/place)
  triaged → closed            only kind ``mediated_on_site`` (网格员当场调解)
  resolved → closed           only kind ``referred`` (诉讼、仲裁、应急热线：已离开信访渠道)
  awaiting_feedback → closed  resolved / explained / referred need the petitioner's rating;
                              no_feedback needs its absence; "unsatisfied" must reopen first
  awaiting_feedback → reopened → dispatched   二次办理 on an unsatisfied rating
  dispatched|in_progress → rerouting          the lead returned it (退单) or a supervisor
                              changes the lead; then redispatch, or dispute when nobody is left
  triaged|rerouting → disputed → dispatched   no owner by rule / ping-pong → whistle, then
                              a supervisor names the lead
  open states → merged        a duplicate (重复件) linked into an open case

Facts a guarded trigger needs, passed as keyword arguments (forgetting one is a
``TypeError``, a bug; a fact that says no is an ``InvalidTransition``)::

  resolve           lead_resolved, co_handlers_reported   (see :func:`resolution_context`)
  close             kind (CloseKind); rating (Rating | None); second_handling (bool)
  reopen            rating
  merge             target_open   (the case it is merged into is still open)
  return_dispatch   reason_code   (ReturnReason); designated_lead (bool, default False)
  request_reconsideration  designated_lead (bool)

The case is resolved only when the lead dispatch is resolved and every co-handler (协办)
has reported. ``closed`` and ``merged`` are terminal: a complaint that comes back after
closure is a new case linked to the old one. Doing the same action twice is refused
(e.g. a second 签收); idempotent retries are the caller's to recognise before firing.

Dispatch (one owner each; reassignment = cancel this one and make a new one, so every
dispatch keeps the clocks frozen when it was made)::

  pending → acknowledged → in_progress → resolved
  pending|acknowledged → returned   退单, needs a ``reason_code`` (:class:`ReturnReason`);
                                   never by a lead a superior designated after a whistle
  open ⟲ request_reconsideration   that designated lead asks the designating office to
                                   reconsider (申请复核, with a reason); the office decides
  open → expired                   a deadline passed and escalation took over. Not a dead
                                   end: a late ack, progress or result moves it on, since
                                   the clocks run from dispatch, not from 签收
  open → cancelled                 case merged, rerouted away, or reassigned by a supervisor
  acknowledged|in_progress ⟲ request_extension   延期 is asked before the deadline only
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from enum import Enum, StrEnum
from functools import cache
from typing import Any, NamedTuple, TypeVar

from transitions import Machine, MachineError

from shared.domain.errors import InvalidTransition
from shared.domain.taxonomy import CloseKind, Rating, ReturnReason, label


class CaseState(StrEnum):
    RECEIVED = "received"
    TRIAGED = "triaged"
    DISPATCHED = "dispatched"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    AWAITING_FEEDBACK = "awaiting_feedback"
    CLOSED = "closed"
    REROUTING = "rerouting"
    DISPUTED = "disputed"
    REOPENED = "reopened"
    MERGED = "merged"
    AWAITING_TRIAGE = "awaiting_triage"


class DispatchState(StrEnum):
    PENDING = "pending"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    RETURNED = "returned"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class DispatchRole(StrEnum):
    LEAD = "lead"  # 主办
    CO_HANDLER = "co_handler"  # 协办


C, D = CaseState, DispatchState
OPEN_DISPATCH_STATES = frozenset({D.PENDING, D.ACKNOWLEDGED, D.IN_PROGRESS, D.EXPIRED})
# A dispatch its owner no longer holds (it returned the case, or it was cancelled).
NOT_LIVE = (D.RETURNED.value, D.CANCELLED.value)
TERMINAL_CASE_STATES = frozenset({C.CLOSED, C.MERGED})
_OPEN_CASE = [
    C.RECEIVED, C.AWAITING_TRIAGE, C.TRIAGED, C.DISPATCHED, C.IN_PROGRESS, C.REROUTING, C.DISPUTED,
]  # fmt: skip
_OPEN_DISPATCH = [D.PENDING, D.ACKNOWLEDGED, D.IN_PROGRESS, D.EXPIRED]


def _rows(
    trigger: str, sources: list[Any], dest: Any, conditions: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    extra: dict[str, Any] = {"conditions": list(conditions)} if conditions else {}
    return [{"trigger": trigger, "source": s, "dest": dest, **extra} for s in sources]


_RESOLVE = ("lead_resolved", "co_handlers_reported")
_CLOSE_AFTER_FEEDBACK = (
    "kind_after_feedback", "rated_unless_no_feedback", "no_rating_for_no_feedback",
    "unsatisfied_reopens_first", "unsatisfied_closes_explained",
)  # fmt: skip
CASE_TRANSITIONS: list[dict[str, Any]] = [
    *_rows("triage", [C.RECEIVED, C.AWAITING_TRIAGE], C.TRIAGED),
    *_rows("hold", [C.RECEIVED, C.DISPUTED], C.AWAITING_TRIAGE),
    *_rows("dispatch", [C.TRIAGED], C.DISPATCHED),
    *_rows("start_progress", [C.DISPATCHED, C.IN_PROGRESS], C.IN_PROGRESS),
    *_rows("resolve", [C.DISPATCHED, C.IN_PROGRESS], C.RESOLVED, _RESOLVE),
    *_rows("request_feedback", [C.RESOLVED], C.AWAITING_FEEDBACK),
    *_rows("close", [C.AWAITING_FEEDBACK], C.CLOSED, _CLOSE_AFTER_FEEDBACK),
    *_rows("close", [C.RESOLVED], C.CLOSED, ("kind_is_referred",)),
    *_rows("close", [C.TRIAGED], C.CLOSED, ("kind_is_mediated_on_site",)),
    *_rows("reopen", [C.AWAITING_FEEDBACK], C.REOPENED, ("rated_unsatisfied",)),
    *_rows("reroute", [C.DISPATCHED, C.IN_PROGRESS], C.REROUTING),
    *_rows("dispute", [C.TRIAGED, C.REROUTING], C.DISPUTED),
    *_rows("redispatch", [C.REROUTING, C.DISPUTED, C.REOPENED], C.DISPATCHED),
    *_rows("merge", _OPEN_CASE, C.MERGED, ("merge_target_open",)),
]

DISPATCH_TRANSITIONS: list[dict[str, Any]] = [
    *_rows("acknowledge", [D.PENDING, D.EXPIRED], D.ACKNOWLEDGED),
    *_rows("start_progress", [D.ACKNOWLEDGED, D.IN_PROGRESS, D.EXPIRED], D.IN_PROGRESS),
    *_rows("request_extension", [D.ACKNOWLEDGED], D.ACKNOWLEDGED),
    *_rows("request_extension", [D.IN_PROGRESS], D.IN_PROGRESS),
    *_rows("resolve", [D.ACKNOWLEDGED, D.IN_PROGRESS, D.EXPIRED], D.RESOLVED),
    *_rows(
        "return_dispatch",
        [D.PENDING, D.ACKNOWLEDGED],
        D.RETURNED,
        ("return_reason_given", "not_a_designated_lead"),
    ),
    *[
        row
        for s in _OPEN_DISPATCH
        for row in _rows("request_reconsideration", [s], s, ("is_a_designated_lead",))
    ],
    *_rows("expire", _OPEN_DISPATCH, D.EXPIRED),
    *_rows("cancel", _OPEN_DISPATCH, D.CANCELLED),
]


# --- conditions: the facts each needs from ``ctx``, the test, and the reason when false -----
E = TypeVar("E", bound=Enum)


class _Condition(NamedTuple):
    needs: tuple[str, ...]
    test: Callable[[Mapping[str, Any]], bool]
    reason: str


def _kind(ctx: Mapping[str, Any]) -> CloseKind | None:
    return _as(CloseKind, ctx.get("kind"))


def _rating(ctx: Mapping[str, Any]) -> Rating | None:
    return _as(Rating, ctx.get("rating"))


def _as(enum: type[E], value: Any) -> E | None:
    try:
        return None if value is None else enum(value)
    except ValueError:
        return None


_K, _R = CloseKind, Rating
_CONDITIONS: dict[str, _Condition] = {
    "lead_resolved": _Condition(
        ("lead_resolved",), lambda c: c["lead_resolved"] is True,
        "主办单位尚未办结 (the lead dispatch is not resolved)"),
    "co_handlers_reported": _Condition(
        ("co_handlers_reported",), lambda c: c["co_handlers_reported"] is True,
        "协办单位尚未全部报告 (not every co-handler has reported)"),
    "kind_after_feedback": _Condition(
        ("kind",), lambda c: _kind(c) not in (None, _K.MEDIATED_ON_SITE),
        "回访后的结案类型应为 resolved/explained/referred/no_feedback (bad close kind)"),
    "rated_unless_no_feedback": _Condition(
        ("kind",), lambda c: _kind(c) is _K.NO_FEEDBACK or _rating(c) is not None,
        "结案须经回访评价，解释结案也不例外 (closing needs the petitioner's rating)"),
    "no_rating_for_no_feedback": _Condition(
        ("kind",), lambda c: _kind(c) is not _K.NO_FEEDBACK or _rating(c) is None,
        "已有评价，不能按「无反馈」结案 (a rating exists: not no_feedback)"),
    "unsatisfied_reopens_first": _Condition(
        ("kind",), lambda c: _rating(c) is not _R.UNSATISFIED or c.get("second_handling") is True,
        "评价不满意，须启动二次办理，不能结案 (unsatisfied: reopen for a second handling)"),
    "unsatisfied_closes_explained": _Condition(
        ("kind",), lambda c: _rating(c) is not _R.UNSATISFIED or _kind(c) is _K.EXPLAINED,
        "二次办理后仍不满意，只能解释结案 (still unsatisfied: only an explained closure)"),
    "kind_is_referred": _Condition(
        ("kind",), lambda c: _kind(c) is _K.REFERRED,
        "未经回访只能以「转办」(referred) 结案 (rate first, unless referred)"),
    "kind_is_mediated_on_site": _Condition(
        ("kind",), lambda c: _kind(c) is _K.MEDIATED_ON_SITE,
        "未派单只能以「当场调解」(mediated_on_site) 结案 (only mediated_on_site)"),
    "rated_unsatisfied": _Condition(
        ("rating",), lambda c: _rating(c) is _R.UNSATISFIED,
        "只有「不满意」评价才启动二次办理 (only an unsatisfied rating reopens)"),
    "merge_target_open": _Condition(
        ("target_open",), lambda c: c["target_open"] is True,
        "目标诉求已结案，重复反映应作为新诉求受理 (the target case is closed)"),
    "return_reason_given": _Condition(
        ("reason_code",), lambda c: _as(ReturnReason, c["reason_code"]) is not None,
        "退单须给出理由代码 (a return needs a reason code: "
        + ", ".join(r.value for r in ReturnReason) + ")"),
    "not_a_designated_lead": _Condition(
        (), lambda c: c.get("designated_lead") is not True,
        "上级吹哨后指定的主办单位不能退单；如有异议，请向指定单位申请复核 "
        "(a lead designated by a superior cannot return the case: ask for reconsideration)"),
    "is_a_designated_lead": _Condition(
        ("designated_lead",), lambda c: c["designated_lead"] is True,
        "只有上级指定的主办单位可申请复核；其他派单可直接退单 "
        "(only a designated lead asks for reconsideration)"),
}  # fmt: skip

# --- why an action the table does not offer is refused -------------------------------------
_FORBIDDEN: dict[tuple[str, str, str], str] = {
    ("dispatch", "acknowledged", "acknowledge"): "派单已签收，不能再次签收 (dispatch already acknowledged)",
    ("dispatch", "in_progress", "acknowledge"): "派单已在办理中，无需签收 (already in progress)",
    ("dispatch", "pending", "start_progress"): "派单尚未签收，请先签收再报告进展 (acknowledge first)",
    ("dispatch", "pending", "resolve"): "派单尚未签收，不能办结 (acknowledge before resolving)",
    ("dispatch", "pending", "request_extension"): "派单尚未签收，请先签收再申请延期 (acknowledge first)",
    ("dispatch", "in_progress", "return_dispatch"):
        "已开始办理，不能退单；确非本单位职责请申请上级协调 (in progress: ask a supervisor)",
    ("dispatch", "expired", "return_dispatch"):
        "派单已超时升级，不能退单；管辖争议由上级协调 (overdue: jurisdiction is the supervisor's call)",
    ("dispatch", "expired", "request_extension"):
        "派单已超期，延期须在期限前申请 (overdue: ask for an extension before the deadline)",
    ("case", "received", "dispatch"): "诉求尚未分类，不能派单 (triage first)",
    ("case", "triaged", "resolve"): "诉求尚未派单，不能办结 (not dispatched yet)",
    ("case", "resolved", "reopen"): "尚未回访评价，不能启动二次办理 (no rating yet)",
}  # fmt: skip
_TERMINAL: dict[str, str] = {
    "resolved": "派单已办结 (dispatch resolved)", "returned": "派单已退回 (dispatch returned)",
    "cancelled": "派单已撤销 (dispatch cancelled)", "closed": "诉求已结案 (case closed)",
    "merged": "诉求已并入其他诉求 (merged into another case)",
}  # fmt: skip


def _refusal(kind: str, state: Enum, trigger: str, table: list[dict[str, Any]]) -> str:
    name = str(state.value)
    if (kind, name, trigger) in _FORBIDDEN:
        return _FORBIDDEN[kind, name, trigger]
    if all(r["trigger"] != trigger for r in table):
        return f"未知操作「{trigger}」 (no such {kind} action)"
    if (kind == "dispatch" and name in _TERMINAL) or name in ("closed", "merged"):
        return f"{_TERMINAL[name]}，不能{label(trigger)} (cannot {trigger})"
    offer = "、".join(f"{label(t)}({t})" for t in _allowed(table, state)) or "无"
    return (
        f"{label(name)}状态下不能{label(trigger)} (cannot {trigger} when {name})；可执行：{offer}"
    )


class _Carrier:
    """The model a trigger runs on: the stored state and, if refused, why.

    A plain object (identity equality, unlike a dataclass or pydantic model, so the
    machine's ``models`` list finds it). No ``__slots__``: the machine binds its
    convenience methods onto the model, and the alternative, ``model_override=True``,
    logs a WARNING for every name it skips (~40 per call: 3x slower and noisy).
    """

    def __init__(self) -> None:
        self.refusal: str | None = None
        self.state: Any = None  # set by add_model: a member of the aggregate's state Enum


def _condition(name: str) -> Callable[[Any], bool]:
    condition = _CONDITIONS[name]

    def run(event: Any) -> bool:
        if condition.test(event.kwargs):
            return True
        event.model.refusal = condition.reason
        return False

    run.__name__ = name
    return run


def _build(states: type[Enum], table: list[dict[str, Any]]) -> Machine:
    """The machine for one aggregate type. Also quiets ``transitions``' INFO chatter (two
    records per transition) unless someone set its level: the timeline is our record."""
    library_log = logging.getLogger("transitions")
    if library_log.level == logging.NOTSET:
        library_log.setLevel(logging.WARNING)
    rows = [
        {**row, "conditions": [_condition(c) for c in row.get("conditions", [])]} for row in table
    ]
    return Machine(
        model=None,
        states=states,
        transitions=rows,
        initial=None,
        auto_transitions=False,
        send_event=True,
    )


@cache
def _case_machine() -> Machine:
    return _build(CaseState, CASE_TRANSITIONS)


@cache
def _dispatch_machine() -> Machine:
    return _build(DispatchState, DISPATCH_TRANSITIONS)


S = TypeVar("S", CaseState, DispatchState)


def _fire(
    kind: str,
    machine: Machine,
    table: list[dict[str, Any]],
    state: S,
    trigger: str,
    ctx: Mapping[str, Any],
) -> S:
    row = next((r for r in table if r["source"] is state and r["trigger"] == trigger), None)
    if row is None:
        raise InvalidTransition(state.value, trigger, _refusal(kind, state, trigger, table))
    _require_ctx(trigger, row, ctx)
    carrier = _carrier_of(machine)
    machine.set_state(state, model=carrier)
    carrier.refusal = None
    try:
        if not machine.events[trigger].trigger(carrier, **ctx):
            raise InvalidTransition(state.value, trigger, carrier.refusal or "条件不满足 (refused)")
        return type(state)(carrier.state.value)
    except MachineError as exc:  # the table and the machine disagree: still a refusal
        raise InvalidTransition(state.value, trigger, str(exc.value)) from exc


@cache
def _carrier_of(machine: Machine) -> _Carrier:
    """The one carrier of a machine, bound once. Binding a model per call (``add_model``,
    ``remove_model``) was most of a transition's cost; a fire is synchronous (no await
    between setting the carrier's state and reading the result), so one carrier per
    machine serves every caller of an event loop."""
    carrier = _Carrier()
    first = next(iter(machine.states.values())).value
    machine.add_model(carrier, initial=first)
    return carrier


def _require_ctx(trigger: str, row: Mapping[str, Any], ctx: Mapping[str, Any]) -> None:
    """A condition's facts are the caller's duty: forgetting one is a bug, not a refusal."""
    missing = [k for c in row.get("conditions", []) for k in _CONDITIONS[c].needs if k not in ctx]
    if missing:
        raise TypeError(f"{trigger} needs context: {', '.join(sorted(set(missing)))}")


def _allowed(table: list[dict[str, Any]], state: Enum) -> list[str]:
    return list(dict.fromkeys(r["trigger"] for r in table if r["source"] is state))


def fire_case(state: CaseState, trigger: str, **ctx: Any) -> CaseState:
    """The case state after ``trigger``; raises :class:`InvalidTransition` when refused."""
    return _fire("case", _case_machine(), CASE_TRANSITIONS, CaseState(state), trigger, ctx)


def fire_dispatch(state: DispatchState, trigger: str, **ctx: Any) -> DispatchState:
    """The dispatch state after ``trigger``; raises :class:`InvalidTransition` when refused."""
    machine = _dispatch_machine()
    return _fire("dispatch", machine, DISPATCH_TRANSITIONS, DispatchState(state), trigger, ctx)


def condition_reason(name: str) -> str:
    """What a condition in the tables requires, as the refusal says it (for docs)."""
    return _CONDITIONS[name].reason


def allowed_case_triggers(state: CaseState) -> list[str]:
    """Triggers the table offers from ``state`` (conditions not evaluated)."""
    return _allowed(CASE_TRANSITIONS, CaseState(state))


def allowed_dispatch_triggers(state: DispatchState) -> list[str]:
    """Triggers the table offers from ``state`` (conditions not evaluated)."""
    return _allowed(DISPATCH_TRANSITIONS, DispatchState(state))


def resolution_context(
    dispatches: Iterable[tuple[DispatchRole | str, DispatchState | str]],
) -> dict[str, bool]:
    """``lead_resolved`` / ``co_handlers_reported`` for ``fire_case(..., "resolve", **ctx)``.

    Returned and cancelled dispatches no longer owe anything (a returned lead is replaced by
    a new lead dispatch); an expired one still does. With no live lead nothing is resolved.
    """
    live = [(DispatchRole(r), DispatchState(s)) for r, s in dispatches]
    live = [(r, s) for r, s in live if s not in (D.RETURNED, D.CANCELLED)]
    leads = [s for r, s in live if r is DispatchRole.LEAD]
    return {
        "lead_resolved": bool(leads) and all(s is D.RESOLVED for s in leads),
        "co_handlers_reported": all(
            s is D.RESOLVED for r, s in live if r is DispatchRole.CO_HANDLER
        ),
    }


def case_resolution_ready(
    dispatch_roles_and_states: Iterable[tuple[DispatchRole | str, DispatchState | str]],
) -> bool:
    """True when the lead dispatch is resolved and every co-handler has reported."""
    ctx = resolution_context(dispatch_roles_and_states)
    return ctx["lead_resolved"] and ctx["co_handlers_reported"]
