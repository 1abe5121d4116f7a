"""How the workbench writes things for people: Beijing time, Chinese names for states,
actions, channels and outcomes, owners by name (the owners directory), never ids or UTC."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from shared.domain.display import beijing
from shared.domain.owners import OwnerDirectory
from shared.domain.taxonomy import label

CHANNELS = {
    "hotline_12345": "12345热线", "grid_app": "网格通", "wechat": "微信公众号",
    "walk_in": "来访窗口", "superior_transfer": "上级转办", "grid_patrol": "网格巡查",
    "open311": "开放接口", "early_warning": "预警联动",
}  # fmt: skip
EVENTS = {
    "alert.raised": "预警", "case.closed": "结案", "case.dispatched": "派单",
    "case.escalated": "督办升级", "case.reminder": "催办", "case.reopened": "二次办理",
    "case.resolved": "办结通知", "case.received": "受理回执", "dispatch.acknowledged": "签收",
    "dispatch.extension_decided": "延期审批结果", "dispatch.extension_requested": "延期申请",
    "dispatch.progressed": "进展", "dispatch.resolved": "办结", "dispatch.returned": "退单",
    "whistle.blown": "吹哨召集", "whistle.lead_designated": "指定主办",
}  # fmt: skip
PRIORITIES = {"normal": "一般", "high": "高"}
OUTCOMES = {"resolved": "已解决", "explained": "解释说明", "referred": "转诉讼、仲裁或应急"}
RETURN_REASONS = {
    "not_our_jurisdiction": "非本单位职责", "wrong_location": "地址不在辖区",
    "needs_other_department": "需其他部门办理", "market_matter": "市场主体事项（物业或企业）",
}  # fmt: skip
RATINGS = {"satisfied": "满意", "basically_satisfied": "基本满意", "unsatisfied": "不满意"}
ROLES = {"lead": "主办", "co_handler": "协办"}
ACTIONS = {
    "received": "受理", "triaged": "分类", "dispatched": "派单", "acknowledged": "签收",
    "progress": "报告进展", "resolved": "办结", "returned": "退单", "cancelled": "撤销派单",
    "closed": "结案", "reopened": "二次办理", "disputed": "职责争议", "escalated": "督办升级",
    "reminder": "催办提醒", "delivered": "已送达", "duplicate_linked": "关联重复件",
    "extension_requested": "申请延期", "extension_decided": "延期审批",
    "whistle_requested": "发起吹哨", "whistle_blown": "吹哨", "whistle_unconvened": "取消召集",
    "lead_designated": "指定主办", "reconsideration_requested": "申请复核",
    "reconsideration_decided": "复核决定", "feedback": "回访评价",
}  # fmt: skip
SYSTEM = {"router": "系统（分派）", "escalation": "系统（督办）", "notifier": "系统（通知）",
          "intake": "系统（受理）"}  # fmt: skip
MEMBER_STATES = {"convened": "未报到", "reported": "已报到"}
WHISTLE_STATES = {"open": "待指定主办", "decided": "已指定主办"}
DELIVERY_STATES = {"pending": "待投递", "delivered": "已送达", "failed": "投递失败",
                   "retrying": "重试中", "sending": "投递中",
                   "no_endpoint": "未登记接收地址"}  # fmt: skip


def parse_at(value: datetime | str) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def when(value: datetime | str | None) -> str:
    """Beijing time for a datetime or an ISO string; ``—`` for none."""
    if value in (None, ""):
        return "—"
    at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return beijing(at)


def iso(value: datetime | str | None) -> str:
    """The machine form (for the countdown script), with its offset."""
    if value in (None, ""):
        return ""
    at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return at.isoformat()


class Names:
    """Display names bound to this process's owner directory."""

    def __init__(
        self,
        owners: OwnerDirectory,
        categories: dict[str, str],
        places: Callable[[str], str] | None = None,
    ) -> None:
        self.owners = owners
        self.categories = categories
        self.places = places  # the gazetteer's name of a path (it answers the path if unknown)

    def category(self, code: str | None) -> str:
        return "—" if not code else self.categories.get(code, code)

    def place(self, path: str | None) -> str:
        """A place path by its name in the gazetteer (``锦绣花园``), else by the office that
        serves it (``d01.s01.c01`` → 幸福社区居委会辖区)."""
        if path and self.places is not None and (name := self.places(path)) != path:
            return name
        parts = (path or "").split(".")
        while parts and parts != [""]:
            found = [o for o in self.owners.all() if o.area == ".".join(parts)]
            if found:
                inner = "" if len(parts) == len((path or "").split(".")) else "内"
                return f"{found[0].name}辖区{inner}"
            parts = parts[:-1]
        return path or "全市"

    def owner(self, owner_id: str | None) -> str:
        if owner_id == "petitioner":
            return "诉求人（短信）"
        return "—" if not owner_id else self.owners.name_of(owner_id)

    def named(self, text: str | None) -> str:
        """A reason written by a service, with the owner ids in it replaced by names."""
        if not text:
            return ""
        ids = sorted((o.id for o in self.owners.all() if o.id in text), key=len, reverse=True)
        for owner_id in ids:
            text = re.sub(rf"(?<![a-z0-9-]){re.escape(owner_id)}(?![a-z0-9-])",
                          self.owners.name_of(owner_id), text)  # fmt: skip
        return text

    def actor(self, actor: str | None) -> str:
        """``department:wy-xingfu`` → 幸福里物业; ``channel:hotline_12345/王芳`` → 12345热线 · 王芳."""
        if not actor:
            return "—"
        if actor in SYSTEM:
            return SYSTEM[actor]
        role, _, scope = actor.partition(":")
        scope, _, person = scope.partition("/")
        if role == "channel":
            who = CHANNELS.get(scope, scope)
        elif role in ("department", "supervisor"):
            who = self.owner(scope)
        else:
            who = {"ops": "运维", "admin": "管理员", "service": "系统"}.get(role, actor)
        return f"{who} · {person}" if person else who


def word(code: str | None, table: dict[str, str] | None = None) -> str:
    """The Chinese word of a code from ``table`` or the common labels."""
    if not code:
        return "—"
    return (table or {}).get(code) or ACTIONS.get(code) or label(code)


def key_person_reason(reason: str) -> str:
    """``repeat_petitions: 4 in 90 days`` → 重复信访（90 天内 4 次）."""
    if reason.startswith("over_the_head"):
        return "越级信访（上级转办）"
    found = re.match(r"repeat_petitions: (\d+) in (\d+) days", reason)
    return f"重复信访（{found[2]} 天内 {found[1]} 次）" if found else reason


def state(code: str | None) -> str:
    """The Chinese word of a case or dispatch state (已签收, not the action 签收)."""
    return "—" if not code else label(code)


def helpers(names: Names) -> dict[str, Any]:
    """The functions every template gets."""
    return {
        "when": when, "iso": iso, "word": word, "state": state, "owner": names.owner, "actor": names.actor,
        "category": names.category, "place": names.place, "named": names.named,
        "EVENTS": EVENTS, "PRIORITIES": PRIORITIES, "kp_reason": key_person_reason,
        "CHANNELS": CHANNELS, "OUTCOMES": OUTCOMES, "RETURN_REASONS": RETURN_REASONS,
        "RATINGS": RATINGS, "ROLES": ROLES, "MEMBER_STATES": MEMBER_STATES,
        "WHISTLE_STATES": WHISTLE_STATES, "DELIVERY_STATES": DELIVERY_STATES,
    }  # fmt: skip
