"""The case and dispatch lifecycles: every allowed transition, and refusals with reasons."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from shared.domain.errors import InvalidTransition
from shared.domain.lifecycle import (
    CASE_TRANSITIONS,
    DISPATCH_TRANSITIONS,
    CaseState,
    DispatchState,
    _case_machine,
    _dispatch_machine,
    allowed_case_triggers,
    allowed_dispatch_triggers,
    case_resolution_ready,
    fire_case,
    fire_dispatch,
    resolution_context,
)

C, D = CaseState, DispatchState

# Facts that satisfy each guarded transition, by (trigger, source).
OK_CTX: dict[tuple[str, Any], dict[str, Any]] = {
    ("resolve", C.DISPATCHED): {"lead_resolved": True, "co_handlers_reported": True},
    ("resolve", C.IN_PROGRESS): {"lead_resolved": True, "co_handlers_reported": True},
    ("close", C.AWAITING_FEEDBACK): {"kind": "resolved", "rating": "satisfied"},
    ("close", C.RESOLVED): {"kind": "referred"},
    ("close", C.TRIAGED): {"kind": "mediated_on_site"},
    ("reopen", C.AWAITING_FEEDBACK): {"rating": "unsatisfied"},
    **{("merge", s): {"target_open": True} for s in C},
    **{("return_dispatch", s): {"reason_code": "not_our_jurisdiction"} for s in D},
    **{("request_reconsideration", s): {"designated_lead": True} for s in D},
}


def _ctx(row: dict[str, Any]) -> dict[str, Any]:
    return OK_CTX.get((row["trigger"], row["source"]), {})


def _refusal(fire: Any, state: Any, trigger: str, **ctx: Any) -> InvalidTransition:
    with pytest.raises(InvalidTransition) as info:
        fire(state, trigger, **ctx)
    assert info.value.state == state.value and info.value.trigger == trigger
    return info.value


@pytest.mark.parametrize("row", CASE_TRANSITIONS, ids=lambda r: f"{r['source']}-{r['trigger']}")
def test_every_case_transition_in_the_table_is_allowed(row: dict[str, Any]) -> None:
    assert fire_case(row["source"], row["trigger"], **_ctx(row)) is row["dest"]


@pytest.mark.parametrize("row", DISPATCH_TRANSITIONS, ids=lambda r: f"{r['source']}-{r['trigger']}")
def test_every_dispatch_transition_in_the_table_is_allowed(row: dict[str, Any]) -> None:
    assert fire_dispatch(row["source"], row["trigger"], **_ctx(row)) is row["dest"]


def _absent(table: list[dict[str, Any]], states: Any) -> list[tuple[Any, str]]:
    triggers = dict.fromkeys(r["trigger"] for r in table)
    present = {(r["source"], r["trigger"]) for r in table}
    return [(s, t) for s in states for t in triggers if (s, t) not in present]


@pytest.mark.parametrize(("state", "trigger"), _absent(CASE_TRANSITIONS, C))
def test_every_case_action_outside_the_table_is_refused_with_a_reason(
    state: CaseState, trigger: str
) -> None:
    assert _refusal(fire_case, state, trigger).reason.strip()


@pytest.mark.parametrize(("state", "trigger"), _absent(DISPATCH_TRANSITIONS, D))
def test_every_dispatch_action_outside_the_table_is_refused_with_a_reason(
    state: DispatchState, trigger: str
) -> None:
    assert _refusal(fire_dispatch, state, trigger).reason.strip()


# --- dispatch refusals a department will meet ------------------------------------------------
def test_acknowledging_twice_is_refused_with_reason() -> None:
    reason = _refusal(fire_dispatch, D.ACKNOWLEDGED, "acknowledge").reason
    assert reason.startswith("派单已签收") and "already acknowledged" in reason


def test_progress_on_a_pending_dispatch_asks_for_acknowledgement_first() -> None:
    assert "先签收" in _refusal(fire_dispatch, D.PENDING, "start_progress").reason


def test_resolving_an_unacknowledged_dispatch_is_refused() -> None:
    assert "尚未签收" in _refusal(fire_dispatch, D.PENDING, "resolve").reason


def test_return_from_resolved_is_refused_with_reason() -> None:
    reason = _refusal(fire_dispatch, D.RESOLVED, "return_dispatch", reason_code="x").reason
    assert reason.startswith("派单已办结")


def test_return_after_work_started_is_refused_and_points_to_the_supervisor() -> None:
    assert "上级协调" in _refusal(fire_dispatch, D.IN_PROGRESS, "return_dispatch").reason


def test_return_of_an_expired_dispatch_is_refused() -> None:
    assert "超时升级" in _refusal(fire_dispatch, D.EXPIRED, "return_dispatch").reason


@pytest.mark.parametrize("code", [None, "", "because", "NOT_OUR_JURISDICTION"])
def test_return_without_a_known_reason_code_is_refused(code: str | None) -> None:
    reason = _refusal(fire_dispatch, D.PENDING, "return_dispatch", reason_code=code).reason
    assert "理由代码" in reason and "not_our_jurisdiction" in reason


@pytest.mark.parametrize("code", ["not_our_jurisdiction", "wrong_location", "market_matter"])
def test_return_with_a_reason_code_is_allowed_before_work_starts(code: str) -> None:
    assert fire_dispatch(D.ACKNOWLEDGED, "return_dispatch", reason_code=code) is D.RETURNED


def test_extension_after_the_deadline_is_refused() -> None:
    assert "期限前" in _refusal(fire_dispatch, D.EXPIRED, "request_extension").reason


def test_extension_keeps_the_dispatch_where_it_is() -> None:
    assert fire_dispatch(D.IN_PROGRESS, "request_extension") is D.IN_PROGRESS


def test_an_expired_dispatch_is_not_a_dead_end() -> None:
    assert fire_dispatch(D.EXPIRED, "acknowledge") is D.ACKNOWLEDGED
    assert fire_dispatch(D.EXPIRED, "start_progress") is D.IN_PROGRESS
    assert fire_dispatch(D.EXPIRED, "resolve") is D.RESOLVED


def test_an_acknowledged_dispatch_can_still_expire() -> None:
    assert fire_dispatch(D.ACKNOWLEDGED, "expire") is D.EXPIRED


@pytest.mark.parametrize("state", [D.RESOLVED, D.RETURNED, D.CANCELLED])
def test_finished_dispatches_accept_no_action(state: DispatchState) -> None:
    assert allowed_dispatch_triggers(state) == []
    assert "不能撤销" in _refusal(fire_dispatch, state, "cancel").reason


# --- case refusals ----------------------------------------------------------------------------
def test_case_is_not_resolved_while_the_lead_is_open() -> None:
    reason = _refusal(
        fire_case, C.IN_PROGRESS, "resolve", lead_resolved=False, co_handlers_reported=True
    ).reason
    assert reason.startswith("主办单位尚未办结")


def test_case_is_not_resolved_while_a_co_handler_has_not_reported() -> None:
    reason = _refusal(
        fire_case, C.IN_PROGRESS, "resolve", lead_resolved=True, co_handlers_reported=False
    ).reason
    assert reason.startswith("协办单位尚未全部报告")


def test_explained_closure_without_a_rating_is_refused() -> None:
    reason = _refusal(fire_case, C.AWAITING_FEEDBACK, "close", kind="explained").reason
    assert "回访评价" in reason


def test_explained_closure_after_a_rating_is_allowed() -> None:
    state = fire_case(C.AWAITING_FEEDBACK, "close", kind="explained", rating="basically_satisfied")
    assert state is C.CLOSED


def test_unsatisfied_rating_cannot_close_before_a_second_handling() -> None:
    reason = _refusal(
        fire_case, C.AWAITING_FEEDBACK, "close", kind="explained", rating="unsatisfied"
    ).reason
    assert "二次办理" in reason


def test_after_a_second_handling_an_unsatisfied_case_closes_only_as_explained() -> None:
    ctx = {"rating": "unsatisfied", "second_handling": True}
    assert (
        "只能解释结案"
        in _refusal(fire_case, C.AWAITING_FEEDBACK, "close", kind="resolved", **ctx).reason
    )
    assert fire_case(C.AWAITING_FEEDBACK, "close", kind="explained", **ctx) is C.CLOSED


def test_no_feedback_closure_needs_the_absence_of_a_rating() -> None:
    assert fire_case(C.AWAITING_FEEDBACK, "close", kind="no_feedback") is C.CLOSED
    reason = _refusal(
        fire_case, C.AWAITING_FEEDBACK, "close", kind="no_feedback", rating="satisfied"
    ).reason
    assert "无反馈" in reason


def test_only_a_referral_may_close_without_feedback() -> None:
    assert fire_case(C.RESOLVED, "close", kind="referred") is C.CLOSED
    assert "转办" in _refusal(fire_case, C.RESOLVED, "close", kind="explained").reason


def test_on_site_mediation_closes_a_triaged_case_and_nothing_else_does() -> None:
    assert fire_case(C.TRIAGED, "close", kind="mediated_on_site") is C.CLOSED
    assert "当场调解" in _refusal(fire_case, C.TRIAGED, "close", kind="resolved").reason
    reason = _refusal(fire_case, C.AWAITING_FEEDBACK, "close", kind="mediated_on_site").reason
    assert "结案类型" in reason


def test_an_unknown_close_kind_is_refused_not_crashed() -> None:
    assert _refusal(fire_case, C.RESOLVED, "close", kind="vanished").reason


def test_reopen_needs_an_unsatisfied_rating() -> None:
    assert fire_case(C.AWAITING_FEEDBACK, "reopen", rating="unsatisfied") is C.REOPENED
    assert "不满意" in _refusal(fire_case, C.AWAITING_FEEDBACK, "reopen", rating="satisfied").reason
    assert "尚未回访" in _refusal(fire_case, C.RESOLVED, "reopen", rating="unsatisfied").reason


def test_a_second_handling_is_dispatched_again() -> None:
    assert fire_case(C.REOPENED, "redispatch") is C.DISPATCHED


@pytest.mark.parametrize("trigger", ["reopen", "redispatch", "merge", "close", "resolve"])
def test_a_closed_case_is_terminal(trigger: str) -> None:
    assert allowed_case_triggers(C.CLOSED) == []
    assert _refusal(fire_case, C.CLOSED, trigger).reason.startswith("诉求已结案")


def test_merging_into_a_closed_case_is_refused() -> None:
    assert "已结案" in _refusal(fire_case, C.DISPATCHED, "merge", target_open=False).reason


def test_dispatching_an_untriaged_case_is_refused() -> None:
    assert "分类" in _refusal(fire_case, C.RECEIVED, "dispatch").reason


def test_a_refusal_lists_what_the_state_allows() -> None:
    reason = _refusal(fire_case, C.DISPATCHED, "request_feedback").reason
    assert "可执行" in reason and "resolve" in reason and "reroute" in reason


def test_an_unknown_action_is_refused_not_an_attribute_error() -> None:
    assert "未知操作" in _refusal(fire_dispatch, D.PENDING, "teleport").reason
    assert "未知操作" in _refusal(fire_case, C.RECEIVED, "acknowledge").reason


def test_forgetting_a_condition_fact_is_a_programming_error() -> None:
    with pytest.raises(TypeError, match="co_handlers_reported"):
        fire_case(C.IN_PROGRESS, "resolve", lead_resolved=True)


def test_states_may_be_given_as_stored_strings() -> None:
    assert fire_dispatch("pending", "acknowledge") is D.ACKNOWLEDGED  # type: ignore[arg-type]


def test_allowed_triggers_follow_the_table() -> None:
    assert allowed_case_triggers(C.RECEIVED) == ["triage", "hold", "merge"]
    assert allowed_case_triggers(C.AWAITING_TRIAGE) == ["triage", "merge"]
    assert allowed_case_triggers(C.DISPUTED) == ["hold", "redispatch", "merge"]
    assert allowed_dispatch_triggers(D.PENDING) == [
        "acknowledge", "return_dispatch", "request_reconsideration", "expire", "cancel"
    ]  # fmt: skip


def test_one_machine_per_aggregate_and_one_model_whatever_the_number_of_fires() -> None:
    assert _case_machine() is _case_machine() and _dispatch_machine() is _dispatch_machine()
    for _ in range(50):
        fire_case(C.RECEIVED, "triage")
        fire_dispatch(D.PENDING, "acknowledge")
        with pytest.raises(InvalidTransition):
            fire_case(C.IN_PROGRESS, "resolve", lead_resolved=False, co_handlers_reported=False)
    assert len(_case_machine().models) == 1 and len(_dispatch_machine().models) == 1


def test_a_refusal_is_not_carried_into_the_next_fire() -> None:
    with pytest.raises(InvalidTransition) as refused:
        fire_case(C.IN_PROGRESS, "resolve", lead_resolved=False, co_handlers_reported=False)
    assert "主办单位尚未办结" in str(refused.value)
    # the same carrier, next call: a fire that passes, then one refused for another reason
    assert fire_case(C.IN_PROGRESS, "resolve", lead_resolved=True, co_handlers_reported=True) is (
        C.RESOLVED
    )
    with pytest.raises(InvalidTransition) as other:
        fire_case(C.IN_PROGRESS, "resolve", lead_resolved=True, co_handlers_reported=False)
    assert "协办单位尚未全部报告" in str(other.value)
    assert "主办单位尚未办结" not in str(other.value)


def test_firing_leaves_no_library_chatter_in_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        fire_dispatch(D.PENDING, "acknowledge")
        with pytest.raises(InvalidTransition):
            fire_dispatch(D.PENDING, "resolve")
    assert [r for r in caplog.records if r.name.startswith("transitions")] == []


# --- lead and co-handlers ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("dispatches", "ready"),
    [
        ([("lead", "resolved"), ("co_handler", "resolved")], True),
        ([("lead", "resolved"), ("co_handler", "in_progress")], False),
        ([("lead", "in_progress"), ("co_handler", "resolved")], False),
        ([("lead", "resolved"), ("co_handler", "expired")], False),
        ([("lead", "resolved"), ("co_handler", "returned")], True),
        ([("lead", "returned"), ("lead", "resolved")], True),
        ([("lead", "returned"), ("co_handler", "resolved")], False),
        ([], False),
    ],
)
def test_a_case_is_resolved_only_when_the_lead_and_every_co_handler_have(
    dispatches: list[tuple[str, str]], ready: bool
) -> None:
    assert case_resolution_ready(dispatches) is ready
    ctx = resolution_context(dispatches)
    assert (ctx["lead_resolved"] and ctx["co_handlers_reported"]) is ready


def test_a_lead_designated_by_a_superior_cannot_return_the_case() -> None:
    """Issue 22 point 1: it asks the designating office to reconsider instead."""
    refused = _refusal(
        fire_dispatch, D.ACKNOWLEDGED, "return_dispatch",
        reason_code="not_our_jurisdiction", designated_lead=True,
    )  # fmt: skip
    assert "申请复核" in refused.reason
    assert fire_dispatch(D.ACKNOWLEDGED, "request_reconsideration", designated_lead=True) is (
        D.ACKNOWLEDGED
    )
    other = _refusal(fire_dispatch, D.PENDING, "request_reconsideration", designated_lead=False)
    assert "直接退单" in other.reason
