"""Routing: which owner leads a case, who co-handles it, how fast — and why.

Rules are data (``config/rules.yaml``, format documented in its header); see
:mod:`shared.domain.rules` for loading and validation. :func:`route` is pure:

1. A rule is a **candidate** when its category pattern matches the case's category, its
   location lies around the case's location, and its lead can be resolved (a ``$kind``
   reference needs an owner of that kind serving the place) and is not excluded.
2. **Most specific wins**: location level first (compound › grid › community › street ›
   district › anywhere), then category (exact code › longer prefix › shorter prefix).
   Two matching rules are equally specific only when they have the same category and
   place, which the loader refuses; so file order never decides silently (were it ever
   to, the earlier rule wins and the later is reported ``tie_later_in_file``).
3. ``exclude_owners`` re-routes after a return (退单): a rule whose lead is excluded falls
   back to its ``alternates`` in order, else loses to the next candidate.
4. **No catch-all.** When no rule gives an owner the decision has no lead and a reason,
   and the router marks the case disputed so that the escalation service whistles
   (吹哨): a default owner would hide exactly the cases nobody owns.

The urgency is the more urgent of the case's and the rule's; it sets the acknowledge
clock. The tier sets the resolve and keep-in-touch clocks. The decision records every rule
considered and why it lost, for ``GET /v1/cases/{id}/routing`` and ``shaobao rules explain``.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from shared.domain.owners import KIND_LABELS, OwnerDirectory, OwnerKind
from shared.domain.rules import DeadlineSpec, Rule, RuleSet, TierPolicy
from shared.domain.taxonomy import (
    LEVEL_LABELS,
    LEVELS,
    URGENCY_RANK,
    Location,
    Tier,
    Urgency,
    category_matches,
    label,
    within,
)

__all__ = [
    "DeadlineSpec",
    "Location",
    "Outcome",
    "RoutingDecision",
    "Rule",
    "RuleConsideration",
    "RuleSet",
    "Tier",
    "TierPolicy",
    "Urgency",
    "explain_text",
    "route",
]


class Outcome(StrEnum):
    CHOSEN = "chosen"
    LESS_SPECIFIC = "less_specific"
    TIE_LATER_IN_FILE = "tie_later_in_file"
    CATEGORY_MISMATCH = "category_mismatch"
    LOCATION_MISMATCH = "location_mismatch"
    LEAD_UNRESOLVABLE = "lead_unresolvable"


class RuleConsideration(BaseModel):
    """One rule looked at while routing, and what became of it."""

    model_config = ConfigDict(frozen=True)

    rule_id: str
    order: int  # 1-based position in the file
    category_pattern: str
    place: str  # the rule's location path, "" = anywhere
    outcome: Outcome
    matched_fields: list[str] = Field(default_factory=list)
    specificity: tuple[int, int, int] = (0, 0, 0)  # location level, exact?, category segments
    lead_owner_id: str | None = None
    co_handler_ids: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    detail: str = ""

    @property
    def matched(self) -> bool:
        return self.outcome is Outcome.CHOSEN


class RoutingDecision(BaseModel):
    model_config = ConfigDict(frozen=True)

    category: str
    category_label: str | None = None
    location: Location
    matched_rule_id: str | None
    lead_owner_id: str | None
    co_handler_ids: list[str]
    owner_names: dict[str, str] = Field(default_factory=dict)
    tier: Tier
    urgency: Urgency
    acknowledge_within: DeadlineSpec
    resolve_within: DeadlineSpec
    keep_in_touch: DeadlineSpec | None
    ruleset_version: str
    disputed: bool
    reason: str | None = None  # why there is no lead, or why the case is disputed
    excluded_owners: list[str] = Field(default_factory=list)
    explanation: list[RuleConsideration]

    def owner_ids(self) -> list[str]:
        """Lead first, then co-handlers: every owner this decision may dispatch to."""
        return [o for o in [self.lead_owner_id, *self.co_handler_ids] if o]


def route(
    ruleset: RuleSet,
    directory: OwnerDirectory,
    *,
    category: str,
    location: Location,
    exclude_owners: set[str] | frozenset[str] = frozenset(),
    urgency: Urgency | None = None,
    community_convenes: bool = False,
) -> RoutingDecision:
    """Decide the owners, tier, urgency and clocks of a case (see the module docstring).

    ``community_convenes``: a linked handling opened by an early warning (物业-社区-维保
    三方联动), or a key person's new case (重点人员, ``key_persons`` in the rules file): the
    community office of the place joins as a co-handler, since it convenes the others or
    knows the person, unless it already leads or no community office serves the place."""
    looked = [
        _consider(rule, i + 1, directory, category, location, exclude_owners)
        for i, rule in enumerate(ruleset.rules)
    ]
    explanation = _rank(looked)
    winner = next((c for c in explanation if c.outcome is Outcome.CHOSEN), None)
    rule = ruleset.rule(winner.rule_id) if winner else None
    tier = rule.tier if rule else ruleset.unmatched_tier
    chosen = _most_urgent(rule.urgency if rule else ruleset.unmatched_urgency, urgency)
    policy = ruleset.tiers[tier]
    lead = winner.lead_owner_id if winner else None
    co = winner.co_handler_ids if winner else []
    if community_convenes and lead is not None:
        office = directory.serving(OwnerKind.COMMUNITY, location)
        if office is not None and office.id not in (lead, *co, *exclude_owners):
            co = [*co, office.id]
    return RoutingDecision(
        category=category,
        category_label=ruleset.categories.get(category),
        location=location,
        matched_rule_id=rule.id if rule else None,
        lead_owner_id=lead,
        co_handler_ids=co,
        owner_names={o: _name(directory, o) for o in [lead, *co] if o},
        tier=tier,
        urgency=chosen,
        acknowledge_within=ruleset.acknowledge[chosen],
        resolve_within=(rule.resolve_within if rule else None) or policy.resolve_within,
        keep_in_touch=policy.keep_in_touch,
        ruleset_version=ruleset.version,
        disputed=bool(rule and rule.disputed),
        reason=_reason(rule, category, location, ruleset, looked),
        excluded_owners=sorted(exclude_owners),
        explanation=explanation,
    )


def _consider(
    rule: Rule,
    order: int,
    directory: OwnerDirectory,
    category: str,
    location: Location,
    exclude: set[str] | frozenset[str],
) -> RuleConsideration:
    base = {
        "rule_id": rule.id, "order": order, "specificity": rule.specificity,
        "category_pattern": rule.category, "place": rule.where.path(),
    }  # fmt: skip
    if not category_matches(rule.category, category):
        return RuleConsideration(**base, outcome=Outcome.CATEGORY_MISMATCH)
    where = rule.where.path()
    if not within(location.path(), where):
        detail = f"地点不符：规则限 {where}，诉求在 {location.path() or '未知'} (location mismatch)"
        return RuleConsideration(**base, outcome=Outcome.LOCATION_MISMATCH, detail=detail)
    given = [f"{lv}={getattr(rule, lv)}" for lv in LEVELS if getattr(rule, lv)]
    fields = [f"category={rule.category}", *(given or ["location=*"])]
    notes: list[str] = []
    lead = _pick(rule.lead, rule.alternates, directory, location, exclude, notes)
    co: list[str] = []
    for ref in rule.co_handlers:
        owner_id = _pick(ref, [], directory, location, exclude | {lead or "", *co}, notes)
        co += [owner_id] if owner_id else []
    outcome = Outcome.CHOSEN if lead else Outcome.LEAD_UNRESOLVABLE
    detail = "" if lead else "主办单位无法确定 (no lead): " + "；".join(notes)
    return RuleConsideration(
        **base, outcome=outcome, matched_fields=fields, lead_owner_id=lead,
        co_handler_ids=co, notes=notes, detail=detail,
    )  # fmt: skip


def _pick(
    ref: str,
    alternates: list[str],
    directory: OwnerDirectory,
    location: Location,
    exclude: set[str] | frozenset[str],
    notes: list[str],
) -> str | None:
    """The first of ``ref`` and its alternates that resolves and is not excluded."""
    for candidate in [ref, *alternates]:
        if candidate.startswith("$"):
            kind = OwnerKind(candidate[1:])
            owner = directory.serving(kind, location)
            if owner is None:
                notes.append(
                    f"{candidate}：{_place(location)} 没有{KIND_LABELS[kind]} (none serves it)"
                )
                continue
        elif (owner := directory.get(candidate)) is None:
            notes.append(f"{candidate}：名录中无此单位 (unknown owner)")
            continue
        if owner.id in exclude:
            notes.append(f"{owner.id}：已排除 (excluded, e.g. returned it)")
            continue
        if candidate != ref:
            notes.append(f"{ref} 不可用，改由备选 {owner.id} (alternate used)")
        return owner.id
    return None


def _rank(looked: list[RuleConsideration]) -> list[RuleConsideration]:
    """Mark the most specific candidate chosen and say why each other candidate lost."""
    candidates = sorted(
        (c for c in looked if c.outcome is Outcome.CHOSEN),
        key=lambda c: (c.specificity, -c.order),
        reverse=True,
    )
    if not candidates:
        return looked
    best = candidates[0]
    ranked: list[RuleConsideration] = []
    for c in looked:
        if c.outcome is not Outcome.CHOSEN or c is best:
            ranked.append(c)
        elif c.specificity == best.specificity:
            why = f"与 {best.rule_id} 同样具体，文件中靠后 (tie, later in the file)"
            ranked.append(
                c.model_copy(update={"outcome": Outcome.TIE_LATER_IN_FILE, "detail": why})
            )
        else:
            why = f"不如 {best.rule_id} 具体：{_compare(c, best)} (less specific)"
            ranked.append(c.model_copy(update={"outcome": Outcome.LESS_SPECIFIC, "detail": why}))
    return ranked


def _compare(loser: RuleConsideration, best: RuleConsideration) -> str:
    if loser.specificity[0] != best.specificity[0]:
        return f"地点范围 {loser.place or '不限'} 大于 {best.place or '不限'}"
    return f"分类 {loser.category_pattern} 宽于 {best.category_pattern}"


def _reason(
    rule: Rule | None,
    category: str,
    location: Location,
    ruleset: RuleSet,
    looked: list[RuleConsideration],
) -> str | None:
    if rule is not None:
        if rule.disputed:
            return f"规则 {rule.id} 标记为已知职责争议，需吹哨协调 (known dispute): {rule.note}"
        return None
    if category not in ruleset.categories:
        return f"未知分类 {category}，无匹配规则，责任单位不明 (unknown category)"
    unresolved = [c for c in looked if c.outcome is Outcome.LEAD_UNRESOLVABLE]
    if unresolved:
        why = "；".join(f"{c.rule_id}: {'；'.join(c.notes)}" for c in unresolved)
        return f"规则命中但无可用主办单位，需吹哨 (no lead left): {why}"
    return f"{_place(location)}无匹配「{category}」的规则，责任单位不明 (no rule matched)"


def _most_urgent(default: Urgency, asked: Urgency | None) -> Urgency:
    if asked is None:
        return default
    return min(default, Urgency(asked), key=lambda u: URGENCY_RANK[u])


def _name(directory: OwnerDirectory, owner_id: str) -> str:
    owner = directory.get(owner_id)
    return owner.name if owner else owner_id


def _place(location: Location) -> str:
    level = next((lv for lv, v in reversed(location.by_level().items()) if v), None)
    return f"{LEVEL_LABELS[level]} {location.path()}" if level else "未知地点"


def explain_text(decision: RoutingDecision) -> str:
    """Chinese-first, human-readable account of a decision, for ``shaobao rules explain``."""
    d = decision
    names = d.owner_names
    lines = [f"分类 {d.category}（{d.category_label or '未收录'}） · 地点 {_place(d.location)}"]
    if d.matched_rule_id is None:
        lines.append(f"未命中任何规则 (no rule): {d.reason}")
    else:
        chosen = next(c for c in d.explanation if c.matched)
        lines.append(
            f"命中规则 {d.matched_rule_id}（第 {chosen.order} 条）："
            + "，".join(chosen.matched_fields)
        )
        co = "、".join(f"{names.get(o, o)}（{o}）" for o in d.co_handler_ids) or "无"
        lines.append(
            f"主办：{names.get(d.lead_owner_id or '', d.lead_owner_id)}（{d.lead_owner_id}）；协办：{co}"
        )
        lines += [f"  注：{n}" for n in chosen.notes]
        if d.disputed:
            lines.append(f"职责争议 (disputed): {d.reason}")
    lines.append(
        f"等级：{label(d.tier)}（{d.tier}） · 紧急程度：{label(d.urgency)}（{d.urgency}） · "
        f"签收 {d.acknowledge_within} · 办结 {d.resolve_within} · 进展报告 {d.keep_in_touch or '不要求'}"
    )
    lines.append(
        f"规则集版本 {d.ruleset_version}"
        + (f" · 已排除 {', '.join(d.excluded_owners)}" if d.excluded_owners else "")
    )
    lines.append("考虑过的规则 (rules considered):")
    skipped = [c.rule_id for c in d.explanation if c.outcome is Outcome.CATEGORY_MISMATCH]
    for c in d.explanation:
        if c.outcome is not Outcome.CATEGORY_MISMATCH:
            mark = "✓" if c.matched else "✗"
            lines.append(f"  {mark} {c.rule_id} [{c.outcome}] {c.detail}".rstrip())
    if skipped:
        lines.append(f"  · 分类不符 (category mismatch) {len(skipped)} 条：{', '.join(skipped)}")
    return "\n".join(lines)
