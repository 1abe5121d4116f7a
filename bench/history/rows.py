"""A planned case (:class:`bench.history.life.Case`) as the rows each service stores for it.

Column lists follow ``services/*/tables.py``; identity columns (``seq``) are left to the
database. Texts are the ones the services write (timeline reasons, delivery messages), so
stored rows have their real sizes. Writers append to a :class:`Rows`, one list per table.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import orjson

from bench.history.life import Case, Dispatch, Window
from bench.history.world import World, dumps, uuid7_at
from services.escalation.ladder import CLOCK_CN, remind_at

COLUMNS: dict[str, tuple[str, ...]] = {
    "intake.petitioners": ("petitioner_ref", "name_enc", "phone_enc", "created_at", "updated_at"),
    "intake.cases": (
        "case_id", "channel", "external_id", "petitioner_ref", "category", "title",
        "description", "location", "urgency", "received_by", "status", "status_detail",
        "status_at", "received_at", "community", "grid", "compound", "key_person",
    ),
    "intake.case_refs": ("channel", "ref", "kind", "case_id", "linked", "created_at"),
    "intake.key_persons": ("petitioner_ref", "reason", "petitions_at_entry", "entered_at"),
    "router.cases": (
        "case_id", "state", "close_kind", "channel", "category", "title", "location", "tier",
        "urgency", "rule_id", "ruleset_version", "petitioner_ref", "received_at", "created_at",
        "updated_at", "version",
    ),
    "router.dispatches": (
        "dispatch_id", "case_id", "owner_id", "role", "state", "rule_id", "ruleset_version",
        "policy", "acknowledge_due_at", "resolve_due_at", "progress_due_at", "acknowledged_at",
        "resolved_at", "created_at", "updated_at", "version",
    ),
    "router.timeline": (
        "case_id", "dispatch_id", "at", "actor", "action", "from_state", "to_state", "reason",
        "rule_version", "detail",
    ),
    "router.routing_decisions": ("case_id", "decided_at", "ruleset_version", "decision"),
    "escalation.deadlines": (
        "deadline_id", "case_id", "dispatch_id", "owner_id", "kind", "due_at", "remind_at",
        "reminded_at", "next_at", "level", "policy", "state", "fired_at", "version",
        "created_at", "updated_at",
    ),
    "escalation.escalations": (
        "escalation_id", "case_id", "dispatch_id", "clock", "level", "from_owner_id",
        "to_owner_id", "reason", "due_at", "created_at",
    ),
    "escalation.extensions": (
        "extension_id", "case_id", "dispatch_id", "owner_id", "working_days", "reason",
        "resolve_due_at", "state", "requested_at", "decided_by", "decided_at",
        "new_resolve_due_at",
    ),
    "notifier.case_facts": (
        "case_id", "channel", "category", "location", "urgency", "tier", "petitioner_ref",
        "received_by", "received_at",
    ),
    "notifier.deliveries": (
        "delivery_id", "event_id", "event_type", "case_id", "dispatch_id", "owner_id", "body",
        "status", "attempts", "next_attempt_at", "delivered_at", "created_at",
    ),
    "notifier.delivery_attempts": ("delivery_id", "at", "status_code", "duration_ms"),
    "notifier.notices": (
        "case_id", "category", "location", "tier", "urgency", "outcome", "resolved_at",
        "closed_kind", "rating",
    ),
    **{
        f"{s}.inbox": ("consumer", "event_id", "event_type", "processed_at")
        for s in ("intake", "router", "escalation", "notifier")
    },
}  # fmt: skip
OUTCOME_CN = {"resolved": "已解决", "explained": "解释结案"}
RATING_CN = {"satisfied": "满意", "basically_satisfied": "基本满意"}
TIER_CN = {"simple": "简易类", "complex": "复杂类", "difficult": "疑难类"}
NOTES = ("已联系诉求人，现场查看", "已协调相关方，正在处理", "已派人维修，等待配件到位")
SUMMARIES = ("已现场处理完毕，诉求人认可", "已协调相关方解决", "已按规定答复并说明政策")
KEY_TIERS = ("complex", "difficult")
Row = tuple[Any, ...]


class Rows(defaultdict[str, list[Row]]):
    def __init__(self) -> None:
        super().__init__(list)

    def add(self, table: str, *values: Any) -> None:
        self[table].append(values)  # COPY refuses a row of the wrong width


def write_case(c: Case, rows: Rows, w: World, win: Window, extras: Extras) -> None:
    _intake(c, rows, extras)
    _router(c, rows)
    _escalation(c, rows, w, extras.rng)
    _notifier(c, rows, win, extras)
    _inboxes(c, rows, extras.rng)


class Extras:
    """Per-process odds and ends: the random source, sealed contact pool, feedback links."""

    def __init__(
        self, rng: random.Random, sealed: list[tuple[bytes, bytes]], link: Any, url: str
    ) -> None:
        self.rng, self.sealed, self.link, self.url = rng, sealed, link, url


# --- intake -------------------------------------------------------------------------------


def _intake(c: Case, rows: Rows, x: Extras) -> None:
    loc = c.t.places
    owners = sorted({d.owner_id for d in c.dispatches})
    if c.closed:
        status, detail, at = "closed", {"owners": owners, "close_kind": c.close_kind}, c.closed
    else:
        first = min(d.acknowledged or c.decided for d in c.dispatches)
        status, detail, at = "acknowledged", {"owners": owners}, first
    rows.add(
        "intake.cases", c.case_id, c.channel, c.external_id, c.petitioner_ref, c.t.category,
        c.title, c.description, dumps(c.t.location), "normal", c.received_by, status, dumps(detail), at,
        c.received, loc["community"], loc["grid"], loc["compound"], c.key_person,
    )  # fmt: skip
    if c.external_id:
        rows.add("intake.case_refs", c.channel, c.external_id, "external_id", c.case_id, False,
                 c.received)  # fmt: skip
    if c.petitioner_ref:
        name, phone = x.rng.choice(x.sealed)
        rows.add("intake.petitioners", c.petitioner_ref, name, phone, c.received, c.received)
    if c.key_person:
        reason = "over_the_head: petitioned past the community (越级, superior transfer)"
        rows.add("intake.key_persons", c.petitioner_ref, reason, 1, c.received)


# --- router -------------------------------------------------------------------------------


def _router(c: Case, rows: Rows) -> None:
    t, lead = c.t, c.lead
    progressed = bool(lead.progressed)
    if c.closed:
        state, version = "closed", 5 + progressed  # triaged 1, dispatched, (progress), resolve,
        # request_feedback, closed
    else:
        state, version = ("in_progress", 3) if progressed else ("dispatched", 2)
    rows.add(
        "router.cases", c.case_id, state, c.close_kind, c.channel, t.category,
        c.title, dumps(t.location), t.tier, t.urgency, t.rule_id,
        t.ruleset_version, c.petitioner_ref, c.received, c.decided,
        c.closed or (lead.progressed[0] if progressed else c.decided), version,
    )  # fmt: skip
    rows.add("router.routing_decisions", c.case_id, c.decided, t.ruleset_version, t.decision)
    policy = dumps({
        "tier": t.tier, "urgency": t.urgency, "acknowledge_within": str(t.acknowledge),
        "resolve_within": str(t.resolve), "keep_in_touch": str(t.keep) if t.keep else None,
    })  # fmt: skip
    for d in c.dispatches:
        _dispatch_row(c, d, rows, policy)
    for entry in sorted(_timeline(c), key=lambda e: e[2]):
        rows.add("router.timeline", *entry)


def _dispatch_row(c: Case, d: Dispatch, rows: Rows, policy: str) -> None:
    ext = c.extension if d is c.lead else None
    if d.resolved:
        state = "resolved"
    else:
        state = "in_progress" if d.progressed else "acknowledged"
    version = 2 + len(d.progressed) + bool(d.resolved) + (2 if ext else 0)
    last = max([d.acknowledged or c.decided, *d.progressed, d.resolved or c.decided,
                ext.decided if ext else c.decided])  # fmt: skip
    rows.add(
        "router.dispatches", d.dispatch_id, c.case_id, d.owner_id, d.role, state, c.t.rule_id,
        c.t.ruleset_version, policy, d.acknowledge_due, d.resolve_due, d.progress_due,
        d.acknowledged, d.resolved, c.decided, last, version,
    )  # fmt: skip


def _timeline(c: Case) -> list[Row]:
    """Every timeline row of the case: (case_id, dispatch_id, at, actor, action, from, to,
    reason, rule_version, detail)."""
    t, v, cid = c.t, c.t.ruleset_version, c.case_id
    actor = f"channel:{c.channel}" + (f"/{c.received_by}" if c.received_by else "")
    names = "、".join(f"{d.name}（{'主办' if d.role == 'lead' else '协办'}）" for d in c.dispatches)
    out: list[Row] = [
        (cid, None, c.received, actor, "received", None, "received", f"受理：{c.title}", None,
         None),
        (cid, None, c.decided, "router", "triaged", "received", "triaged",
         f"分类：规则 {t.rule_id}，{t.tier} 类", v, None),
        (cid, None, c.decided, "router", "dispatched", "triaged", "dispatched", f"派单：{names}",
         v, None),
    ]  # fmt: skip
    for d in c.dispatches:
        out += _dispatch_timeline(c, d)
    for r in c.reminders:
        why = f"催办：{CLOCK_CN.get(r.clock, r.clock)}时限将于 {r.due.isoformat()} 到期，请尽快处理"
        out.append((cid, c.lead.dispatch_id, r.at, "escalation", "reminder", None, None,
                    f"催办 {c.lead.owner_id}：{why}", None,
                    dumps({"clock": r.clock, "due_at": r.due.isoformat()})))  # fmt: skip
    if c.climb:
        m = c.climb
        out.append((cid, c.lead.dispatch_id, m.fired, "escalation", "escalated", None, None,
                    f"督办 {c.lead.owner_id} → {m.to_owner}（{m.level}）：{m.reason}", None,
                    dumps({"clock": "acknowledge", "to_owner_id": m.to_owner})))  # fmt: skip
    if c.lead.progressed:
        first = c.lead.progressed[0]
        out.append((cid, None, first, f"department:{c.lead.owner_id}", "start_progress",
                    "dispatched", "in_progress", f"{c.lead.owner_id} 开始办理", v, None))  # fmt: skip
    if c.extension:
        out += _extension_timeline(c)
    if c.resolved:
        out += _closing_timeline(c)
    return out


def _dispatch_timeline(c: Case, d: Dispatch) -> list[Row]:
    v, who = c.t.ruleset_version, f"department:{d.owner_id}"
    out: list[Row] = [
        (c.case_id, d.dispatch_id, d.delivered, "notifier", "delivered", None, None,
         f"已送达 {d.owner_id}（第 1 次尝试）", None,
         dumps({"owner_id": d.owner_id, "delivery_id": str(d.delivery_id)})),
        (c.case_id, d.dispatch_id, d.acknowledged, who, "acknowledged", "pending",
         "acknowledged", f"{d.owner_id} 已签收", v, None),
    ]  # fmt: skip
    state = "acknowledged"
    for i, p in enumerate(d.progressed):
        out.append((c.case_id, d.dispatch_id, p, who, "progress", state, "in_progress",
                    NOTES[i % len(NOTES)], v, dumps({"minutes_spent": 20 + 25 * i})))  # fmt: skip
        state = "in_progress"
    if d.resolved:
        outcome = c.outcome if d is c.lead else "resolved"
        out.append((c.case_id, d.dispatch_id, d.resolved, who, "resolved", state, "resolved",
                    f"{OUTCOME_CN[outcome]}：{SUMMARIES[c.n % len(SUMMARIES)]}", v,
                    dumps({"outcome": outcome})))  # fmt: skip
    return out


def _extension_timeline(c: Case) -> list[Row]:
    e, d, v = c.extension, c.lead, c.t.ruleset_version
    assert e is not None
    state = "in_progress" if d.progressed and d.progressed[0] < e.requested else "acknowledged"
    verdict = f"同意延期 {e.working_days} 个工作日，新办结时限 {e.new_due.isoformat()}"
    return [
        (c.case_id, d.dispatch_id, e.requested, f"department:{d.owner_id}", "extension_requested",
         state, state, f"申请延期 {e.working_days} 个工作日：需协调多方，申请延期", v,
         dumps({"working_days": e.working_days})),
        (c.case_id, d.dispatch_id, e.decided, e.decided_by, "extension_decided", None, None,
         f"同意延期 {e.working_days} 个工作日，新办结时限 {e.new_due:%Y-%m-%d %H:%M} UTC：{verdict}",
         None, None),
    ]  # fmt: skip


def _closing_timeline(c: Case) -> list[Row]:
    v, lead = c.t.ruleset_version, c.lead
    assert c.resolved is not None and c.closed is not None
    before = "in_progress" if lead.progressed else "dispatched"
    out: list[Row] = [
        (c.case_id, None, c.resolved, f"department:{lead.owner_id}", "resolve", before,
         "resolved", f"主办单位办结：{OUTCOME_CN[c.outcome]}", v, None),
        (c.case_id, None, c.resolved, "router", "request_feedback", "resolved",
         "awaiting_feedback", "待回访：请诉求人评价办理结果", v, None),
    ]  # fmt: skip
    if c.rating is None:
        out.append((c.case_id, None, c.closed, "router", "closed", "awaiting_feedback", "closed",
                    "回访 7 天内无评价，按「无反馈」结案", v, dumps({"kind": "no_feedback"})))  # fmt: skip
    else:
        kind = c.close_kind
        out.append((c.case_id, None, c.closed, f"channel:{c.channel}", "closed",
                    "awaiting_feedback", "closed",
                    f"回访评价：{RATING_CN[c.rating]}，结案（{kind}）", v,
                    dumps({"rating": c.rating, "kind": kind, "second_handling": False})))  # fmt: skip
    return out


# --- escalation ---------------------------------------------------------------------------


def _escalation(c: Case, rows: Rows, w: World, rng: random.Random) -> None:
    share = w.policy.reminder_share
    for d in c.dispatches:
        base = c.t.escalation_policy | {"dispatch_owner_id": d.owner_id}
        policy = dumps(base | {"dispatched_at": c.decided.isoformat()})
        _ack_clock(c, d, rows, policy, share, rng)
        if d.progress_due is not None:
            _progress_clock(c, d, rows, base, w, rng)
        _resolve_clock(c, d, rows, policy, share, rng)
    if c.climb:
        m, lead = c.climb, c.lead
        policy = dumps(c.t.escalation_policy | {"dispatch_owner_id": lead.owner_id,
                                                "dispatched_at": c.decided.isoformat()})  # fmt: skip
        rows.add("escalation.deadlines", m.deadline_id, c.case_id, lead.dispatch_id, m.to_owner,
                 "escalate.acknowledge", m.due, None, None, m.due, m.index, policy, "disarmed",
                 None, 2, m.fired, lead.acknowledged)  # fmt: skip
        rows.add("escalation.escalations", m.escalation_id, c.case_id, lead.dispatch_id,
                 "acknowledge", m.level, lead.owner_id, m.to_owner, m.reason, m.due, m.fired)  # fmt: skip
    if c.extension:
        e, lead = c.extension, c.lead
        rows.add("escalation.extensions", e.extension_id, c.case_id, lead.dispatch_id,
                 lead.owner_id, e.working_days, "需协调多方，申请延期", e.old_due, "approved",
                 e.requested, e.decided_by, e.decided, e.new_due)  # fmt: skip


def _ack_clock(
    c: Case, d: Dispatch, rows: Rows, policy: str, share: float, rng: random.Random
) -> None:
    due = d.acknowledge_due
    remind = remind_at(c.decided, due, share)
    late = c.climb is not None and d is c.lead
    reminded = next((r.at for r in c.reminders if r.clock == "acknowledge"), None)
    values: tuple[datetime | None, datetime, str, datetime | None, int, datetime | None]
    if late:
        assert c.climb is not None
        values = (reminded, due, "fired", c.climb.fired, 3, c.climb.fired)
    else:
        values = (None, remind or due, "disarmed", None, 2, d.acknowledged)
    reminded_at, next_at, state, fired, version, updated = values
    rows.add("escalation.deadlines", uuid7_at(c.decided, rng), c.case_id,
             d.dispatch_id, d.owner_id, "acknowledge", due, remind, reminded_at, next_at, 0,
             policy, state, fired, version, c.decided, updated)  # fmt: skip


def _progress_clock(
    c: Case, d: Dispatch, rows: Rows, base: dict[str, Any], w: World, rng: random.Random
) -> None:
    """Re-armed by every progress report (keep-in-touch from the report), then stopped."""
    assert d.progress_due is not None
    start, due = c.decided, d.progress_due
    if d.progressed:
        start = d.progressed[-1]
        due = w.calendar.add(start, c.t.keep) if c.t.keep else due
    remind = remind_at(start, due, w.policy.reminder_share)
    state = "disarmed" if d.resolved else "armed"
    version = 1 + len(d.progressed) + bool(d.resolved)
    policy = dumps(base | {"dispatched_at": start.isoformat()})
    rows.add("escalation.deadlines", uuid7_at(c.decided, rng), c.case_id,
             d.dispatch_id, d.owner_id, "progress", due, remind, None, remind or due, 0, policy,
             state, None, version, c.decided, d.resolved or start)  # fmt: skip


def _resolve_clock(
    c: Case, d: Dispatch, rows: Rows, policy: str, share: float, rng: random.Random
) -> None:
    ext = c.extension if d is c.lead else None
    if ext is None:
        due = d.resolve_due
        rows.add("escalation.deadlines", uuid7_at(c.decided, rng), c.case_id,
                 d.dispatch_id, d.owner_id, "resolve", due, remind_at(c.decided, due, share),
                 None, remind_at(c.decided, due, share) or due, 0, policy, "disarmed", None, 2,
                 c.decided, d.resolved or c.decided)  # fmt: skip
        return
    remind = remind_at(ext.decided, ext.new_due, share)
    reminded = next((r.at for r in c.reminders if r.clock == "resolve"), None)
    rows.add("escalation.deadlines", uuid7_at(c.decided, rng), c.case_id,
             d.dispatch_id, d.owner_id, "resolve", ext.new_due, remind, reminded,
             ext.new_due if reminded else (remind or ext.new_due), 0, policy, "armed", None,
             2 + bool(reminded), c.decided, reminded or ext.decided)  # fmt: skip


# --- notifier -----------------------------------------------------------------------------


def _notifier(c: Case, rows: Rows, win: Window, x: Extras) -> None:
    t = c.t
    rows.add("notifier.case_facts", c.case_id, c.channel, t.category, dumps(t.location),
             "normal", t.tier, c.petitioner_ref, c.received_by, c.received)  # fmt: skip
    for d in c.dispatches:
        _deliver(rows, x, c, d.delivery_id, c.events["case.dispatched"], "case.dispatched",
                 d.owner_id, _dispatched_body(c, d), c.decided, d.dispatch_id)  # fmt: skip
    for r in c.reminders:
        body = {"event": "case.reminder", "event_id": str(r.event_id), "case_id": str(c.case_id),
                "clock": r.clock, "due_at": r.due.isoformat(),
                "message": f"【哨报催办】{CLOCK_CN.get(r.clock, r.clock)}时限将于 {r.due.isoformat()} 到期"}  # fmt: skip
        _deliver(rows, x, c, None, r.event_id, "case.reminder", c.lead.owner_id, body, r.at,
                 c.lead.dispatch_id)  # fmt: skip
    if c.climb:
        m = c.climb
        body = {"event": "case.escalated", "event_id": str(m.event_id), "case_id": str(c.case_id),
                "from_owner_id": c.lead.owner_id, "to_owner_id": m.to_owner, "message": m.reason}  # fmt: skip
        for owner in (m.to_owner, c.lead.owner_id):
            _deliver(rows, x, c, None, m.event_id, "case.escalated", owner,
                     body | {"owner_id": owner}, m.fired, None)  # fmt: skip
    if c.resolved and c.petitioner_ref:
        expires = int(c.resolved.timestamp()) + 30 * 86400
        text = (f"【哨报】您反映的诉求（编号 {str(c.case_id)[:8]}）{OUTCOME_CN[c.outcome]}。"
                f"请对办理结果评价（满意 / 基本满意 / 不满意）：{x.url}{x.link(c.case_id, expires)}")  # fmt: skip
        body = {"event": "case.resolved", "case_id": str(c.case_id), "subject":
                "诉求办理结果告知 (your case was resolved)", "petitioner_ref": c.petitioner_ref,
                "message": text}  # fmt: skip
        _deliver(rows, x, c, None, c.events["case.resolved"], "case.resolved", "petitioner",
                 body, c.resolved, None)  # fmt: skip
    if c.resolved and t.tier in KEY_TIERS:
        public = {k: v for k, v in t.location.items() if v}
        rows.add("notifier.notices", c.case_id, t.category, dumps(public), t.tier, "normal",
                 c.outcome, c.resolved, c.close_kind, c.rating)  # fmt: skip


def _dispatched_body(c: Case, d: Dispatch) -> dict[str, Any]:
    t = c.t
    return {
        "event": "case.dispatched",
        "event_id": str(c.events["case.dispatched"]),
        "message": (
            f"【哨报派单】{d.name}：请于 {d.acknowledge_due:%Y-%m-%d %H:%M} UTC 前签收，"
            f"{d.resolve_due:%Y-%m-%d %H:%M} UTC 前办结。事项：{c.title}"
            f"（{TIER_CN.get(t.tier, t.tier)}，{'主办' if d.role == 'lead' else '协办'}）"
        ),
        "case_id": str(c.case_id),
        "category": t.category,
        "tier": t.tier,
        "location": t.places,
        "dispatch": {"dispatch_id": str(d.dispatch_id), "owner_id": d.owner_id, "role": d.role},
    }


def _deliver(
    rows: Rows, x: Extras, c: Case, delivery_id: UUID | None, event_id: UUID, event_type: str,
    owner: str, body: dict[str, Any], at: datetime, dispatch_id: UUID | None,
) -> None:  # fmt: skip
    did = delivery_id or uuid7_at(at, x.rng)
    sent = at + timedelta(milliseconds=x.rng.uniform(30, 900))
    rows.add("notifier.deliveries", did, event_id, event_type, c.case_id, dispatch_id, owner,
             orjson.dumps(body), "delivered", 1, at, sent, at)  # fmt: skip
    rows.add("notifier.delivery_attempts", did, sent, 200, x.rng.randrange(15, 400))


# --- inboxes ------------------------------------------------------------------------------


def _inboxes(c: Case, rows: Rows, rng: random.Random) -> None:
    """One row per (consumer, event) every service's consumer processed for this case."""
    got: list[tuple[str, UUID, str, datetime]] = []
    e = c.events

    def to(services: str, event_id: UUID, kind: str, at: datetime) -> None:
        got.extend((s, event_id, kind, at) for s in services.split())

    to("router notifier", e["case.received"], "case.received", c.received)
    to("escalation notifier intake", e["case.dispatched"], "case.dispatched", c.decided)
    for d in c.dispatches:
        to("router", d.events["dispatch.delivered"], "dispatch.delivered", d.delivered)
        to("escalation intake notifier", d.events["dispatch.acknowledged"],
           "dispatch.acknowledged", d.acknowledged or c.decided)  # fmt: skip
        for eid, p in zip(d.progress_events, d.progressed, strict=True):
            to("escalation", eid, "dispatch.progressed", p)
        if d.resolved:
            to("escalation", d.events["dispatch.resolved"], "dispatch.resolved", d.resolved)
    for r in c.reminders:
        to("router notifier", r.event_id, "case.reminder", r.at)
    if c.climb:
        to("router notifier", c.climb.event_id, "case.escalated", c.climb.fired)
    if c.extension:
        ext = c.extension
        to("escalation", ext.events["requested"], "dispatch.extension_requested", ext.requested)
        to("router notifier", ext.events["decided"], "dispatch.extension_decided", ext.decided)
    if c.resolved and c.closed:
        to("intake notifier", e["case.resolved"], "case.resolved", c.resolved)
        if "feedback.received" in e:
            to("router", e["feedback.received"], "feedback.received", c.closed)
        to("intake notifier", e["case.closed"], "case.closed", c.closed)
    for service, event_id, kind, at in got:
        later = at + timedelta(milliseconds=rng.uniform(20, 400))
        rows.add(f"{service}.inbox", service, event_id, kind, later)
