"""The report of ``shaobao rules simulate``: its JSON shape and its Chinese-first text.

Built from a :class:`shared.domain.rule_simulation.Tally` once every case has been fed to
it; see that module for what is compared. Owners are named in Chinese with their id, as in
``shaobao rules explain``.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel

from shared.domain.rule_simulation import WHISTLE, Comparison, Destination, Tally

Names = Callable[[str], str]


class DestinationOut(BaseModel):
    lead: str | None
    lead_name: str
    co_handlers: list[str]
    co_handler_names: list[str]


class CategoryRow(BaseModel):
    category: str
    label: str
    cases: int
    lead_changed: int
    co_changed: int
    stored_differs: int


class LeadMove(BaseModel):
    from_lead: str | None
    from_name: str
    to_lead: str | None
    to_name: str
    cases: int


class OwnerRow(BaseModel):
    """An owner's cases on arrival, today's rules and the new ones (changed owners only)."""

    owner_id: str
    name: str
    lead_now: int
    lead_new: int
    co_now: int
    co_new: int


class Example(BaseModel):
    case_number: str
    category: str
    label: str
    place: str
    lead_changed: bool
    co_changed: bool
    stored: DestinationOut | None  # given only when it differs from today's answer
    current: DestinationOut
    new: DestinationOut


class SimulationReport(BaseModel):
    """What ``shaobao rules simulate --json`` prints."""

    rules_file: str
    current_version: str
    new_version: str
    since: str
    cases: int
    lead_changed: int
    co_changed: int
    changed: int  # lead or co-handlers
    stored_differs: int  # the stored first routing differs from the new answer
    stored_drifted: int  # the stored first routing differs from today's answer
    without_stored: int  # no stored routing to compare with
    skipped: int  # a stored place that no longer reads as a place
    by_category: list[CategoryRow]
    lead_moves: list[LeadMove]
    by_owner: list[OwnerRow]
    examples: list[Example]


def build_report(
    tally: Tally, *, names: Names, labels: dict[str, str], header: dict[str, str]
) -> SimulationReport:
    """``header``: rules_file, current_version, new_version, since."""
    changed = tally.categories.values()
    return SimulationReport(
        **header,
        cases=tally.cases,
        lead_changed=sum(r.lead_changed for r in changed),
        co_changed=sum(r.co_changed for r in changed),
        changed=tally.changed,
        stored_differs=tally.stored_differs,
        stored_drifted=tally.stored_drifted,
        without_stored=tally.without_stored,
        skipped=tally.skipped,
        by_category=_categories(tally, labels),
        lead_moves=_moves(tally, names),
        by_owner=_owners(tally, names),
        examples=[_example(c, names, labels) for c in tally.changes],
    )


def _moves(tally: Tally, names: Names) -> list[LeadMove]:
    ranked = sorted(tally.moves.items(), key=lambda m: (-m[1], str(m[0][0]), str(m[0][1])))
    return [
        LeadMove(from_lead=old, from_name=_name(old, names), to_lead=new,
                 to_name=_name(new, names), cases=n)
        for (old, new), n in ranked
    ]  # fmt: skip


def _categories(tally: Tally, labels: dict[str, str]) -> list[CategoryRow]:
    rows = [
        CategoryRow(category=code, label=labels.get(code, ""), cases=r.cases,
                    lead_changed=r.lead_changed, co_changed=r.co_changed,
                    stored_differs=r.stored_differs)
        for code, r in tally.categories.items()
    ]  # fmt: skip
    return sorted(rows, key=lambda r: (-(r.lead_changed + r.co_changed), r.category))


def _owners(tally: Tally, names: Names) -> list[OwnerRow]:
    ids = sorted({owner for owner, _ in tally.owners})
    rows = [
        OwnerRow(owner_id=o, name=names(o), lead_now=tally.owners[(o, "lead_now")],
                 lead_new=tally.owners[(o, "lead_new")], co_now=tally.owners[(o, "co_now")],
                 co_new=tally.owners[(o, "co_new")])
        for o in ids
    ]  # fmt: skip
    return [r for r in rows if (r.lead_now, r.co_now) != (r.lead_new, r.co_new)]


def _example(c: Comparison, names: Names, labels: dict[str, str]) -> Example:
    return Example(
        case_number=c.case.case_number,
        category=c.case.category,
        label=labels.get(c.case.category, ""),
        place=c.case.location.path(),
        lead_changed=c.lead_changed,
        co_changed=c.co_changed,
        stored=_out(c.case.stored, names) if c.drifted and c.case.stored else None,
        current=_out(c.current, names),
        new=_out(c.new, names),
    )


def _out(dest: Destination, names: Names) -> DestinationOut:
    return DestinationOut(
        lead=dest.lead,
        lead_name=_name(dest.lead, names),
        co_handlers=list(dest.co_handlers),
        co_handler_names=[names(o) for o in dest.co_handlers],
    )


def _name(owner: str | None, names: Names) -> str:
    return WHISTLE if owner is None else names(owner)


def _who(owner: str | None, name: str) -> str:
    return name if owner is None else f"{name}（{owner}）"


def _co(dest: DestinationOut) -> str:
    pairs = zip(dest.co_handlers, dest.co_handler_names, strict=True)
    return "、".join(f"{name}（{o}）" for o, name in pairs) or "无"


def report_text(r: SimulationReport) -> str:
    """Chinese first, for the operator reading the terminal."""
    lines = [
        f"规则变更模拟 (rules simulate)：{r.rules_file}（版本 {r.new_version}）"
        f" 对比现行规则（版本 {r.current_version}），受理时间在最近 {r.since} 内的诉求",
        f"查看诉求 (cases looked at)：{r.cases} 件",
        f"主办会变 (lead would change)：{r.lead_changed} 件；协办会变 (co-handlers would change)："
        f"{r.co_changed} 件；合计有变化 (either)：{r.changed} 件",
        f"与首次派单记录不同 (differs from what was stored)：{r.stored_differs} 件"
        f"（记录与现行规则已不同 (stored ≠ current rules)：{r.stored_drifted} 件）",
    ]
    if r.without_stored or r.skipped:
        lines.append(f"无派单记录 (no stored routing)：{r.without_stored} 件；"
                     f"地点无法识别、未计入 (skipped)：{r.skipped} 件")  # fmt: skip
    lines.append("按分类 (by category)：件数 · 主办会变 · 协办会变 · 与记录不同")
    lines += [
        f"  {c.category} {c.label}：{c.cases} · {c.lead_changed} · {c.co_changed} · {c.stored_differs}"
        for c in r.by_category
    ]
    lines.append("主办转移 (lead moves, current → new)：" + ("" if r.lead_moves else "无"))
    lines += [
        f"  {_who(m.from_lead, m.from_name)} → {_who(m.to_lead, m.to_name)}：{m.cases} 件"
        for m in r.lead_moves
    ]
    lines.append("按单位 (by owner, current → new)：" + ("" if r.by_owner else "无变化"))
    lines += [
        f"  {o.name}（{o.owner_id}）：主办 {o.lead_now} → {o.lead_new}；协办 {o.co_now} → {o.co_new}"
        for o in r.by_owner
    ]
    lines.append(f"示例 (examples, {len(r.examples)})：" + ("" if r.examples else "无"))
    for e in r.examples:
        lines += _example_lines(e)
    return "\n".join(lines)


def _example_lines(e: Example) -> list[str]:
    lead = (_who(e.current.lead, e.current.lead_name), _who(e.new.lead, e.new.lead_name))
    co = (_co(e.current), _co(e.new))
    lines = [
        f"  {e.case_number} · {e.category} {e.label} · {e.place or '未知地点'}",
        f"    主办：{lead[0]} → {lead[1]}" if e.lead_changed else f"    主办（不变）：{lead[0]}",
        f"    协办：{co[0]} → {co[1]}" if e.co_changed else f"    协办（不变）：{co[0]}",
    ]
    if e.stored is not None:
        lines.append(
            f"    首次派单记录 (stored)：主办 {_who(e.stored.lead, e.stored.lead_name)}；"
            f"协办 {_co(e.stored)}"
        )
    return lines
