"""The routing rules file: its shape, its checks, its version.

Split from :mod:`shared.domain.routing` (which re-exports these names) so that each stays
small: this module knows the file, routing knows the decision. The file format is
documented in the header of ``config/rules.yaml``. Loading refuses a bad file with a
:class:`ConfigError` naming the file, line, rule id and field; in particular two rules with
the same category and place (one could never win) and categories the taxonomy lacks.

The version stored on every dispatch is the file's own ``version`` plus a hash of its
bytes, so an edit that forgets to bump the version still shows.
"""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from shared.domain.errors import ConfigError, YamlSource, read_operator_file
from shared.domain.key_persons import KeyPersonRouting
from shared.domain.notices import NoticePolicy
from shared.domain.owners import OwnerDirectory, OwnerKind
from shared.domain.taxonomy import (
    LEVELS,
    Location,
    Tier,
    Urgency,
    category_matches,
    category_specificity,
    is_category_code,
    is_category_pattern,
)

_UNITS = {"m": "minutes", "h": "hours", "d": "days", "wd": "working_days"}
_SHORT = re.compile(r"^(\d+)(m|h|d|wd)$")


class DeadlineSpec(BaseModel):
    """A duration as data: exactly one of minutes, hours, days (calendar) or working days.

    Written ``{hours: 24}`` or ``24h`` (``15m``, ``3d``, ``5wd``); ``str()`` gives the
    short form. Working days are counted by the calendar, not here.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    minutes: int = Field(0, ge=0)
    hours: int = Field(0, ge=0)
    days: int = Field(0, ge=0)
    working_days: int = Field(0, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, data: Any) -> Any:
        if isinstance(data, str):
            match = _SHORT.match(data.strip())
            if not match:
                raise ValueError(f"时长「{data}」应写成 15m / 24h / 3d / 5wd")
            return {_UNITS[match.group(2)]: int(match.group(1))}
        return data

    @model_validator(mode="after")
    def _exactly_one_unit(self) -> DeadlineSpec:
        given = [(s, u) for s, u in _UNITS.items() if getattr(self, u)]
        if len(given) != 1:
            raise ValueError("时长须恰有一个正的单位 (exactly one positive unit)")
        # Read for every deadline of every dispatch: worked out once (the model is frozen).
        self._unit, self._short = given[0][1], f"{getattr(self, given[0][1])}{given[0][0]}"
        return self

    _unit: str = PrivateAttr("")
    _short: str = PrivateAttr("")

    @property
    def unit(self) -> str:
        """``minutes``, ``hours``, ``days`` or ``working_days``."""
        return self._unit

    @property
    def amount(self) -> int:
        return int(getattr(self, self._unit))

    def as_timedelta(self) -> timedelta | None:
        """The fixed length, or None for working days (they need the calendar)."""
        return None if self.working_days else timedelta(**{self._unit: self.amount})

    def __str__(self) -> str:
        return self._short


class TierPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    resolve_within: DeadlineSpec
    keep_in_touch: DeadlineSpec | None = None


_REF = re.compile(r"^(\$[a-z_]+|[a-z0-9][a-z0-9-]*)$")


def _check_ref(ref: str) -> str:
    if not _REF.match(ref):
        raise ValueError(f"「{ref}」不是单位 id 或 $kind 引用 (owner id or $kind)")
    if ref.startswith("$") and ref[1:] not in {k.value for k in OwnerKind}:
        kinds = ", ".join("$" + k.value for k in OwnerKind)
        raise ValueError(f"未知的单位类型引用 {ref} (known: {kinds})")
    return ref


class Rule(BaseModel):
    """One routing rule. Location fields constrain where it applies (the deepest wins)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    category: str
    district: str | None = None
    street: str | None = None
    community: str | None = None
    grid: str | None = None
    compound: str | None = None
    lead: str
    alternates: list[str] = Field(default_factory=list)
    co_handlers: list[str] = Field(default_factory=list)
    tier: Tier
    urgency: Urgency = Urgency.NORMAL
    disputed: bool = False
    resolve_within: DeadlineSpec | None = None
    note: str = ""
    _where: Location = PrivateAttr(default_factory=Location)

    @field_validator("category")
    @classmethod
    def _category_pattern(cls, value: str) -> str:
        if not is_category_pattern(value):
            raise ValueError(f"分类「{value}」应为 a.b 或 a.* (exact code or prefix.*)")
        return value

    @field_validator("lead")
    @classmethod
    def _lead_ref(cls, value: str) -> str:
        return _check_ref(value)

    @field_validator("alternates", "co_handlers")
    @classmethod
    def _refs(cls, value: list[str]) -> list[str]:
        return [_check_ref(v) for v in value]

    @model_validator(mode="after")
    def _place_is_consistent(self) -> Rule:
        try:
            self._place()
        except ValidationError as exc:
            raise ValueError(str(exc.errors()[0]["msg"]).removeprefix("Value error, ")) from None
        return self

    def _place(self) -> Location:
        return Location(**{lv: getattr(self, lv) for lv in LEVELS})

    def model_post_init(self, context: Any, /) -> None:
        self._where = self._place()

    @property
    def where(self) -> Location:
        """The place the rule is limited to (ancestors filled in); empty = anywhere."""
        return self._where

    @property
    def specificity(self) -> tuple[int, int, int]:
        """(location level, exact category?, category segments): larger is more specific."""
        return (self._where.specificity, *category_specificity(self.category))


class _Unmatched(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    tier: Tier = Tier.DIFFICULT
    urgency: Urgency = Urgency.NORMAL


class TriagePolicy(BaseModel):
    """``triage:`` in rules.yaml: when a free-text case routes by the model's suggestion,
    and how long it may wait in the dispatchers' queue (派单) before it escalates.

    ``min_probability`` is the model's calibrated top probability at or above which the
    case routes by itself (``per_category`` overrides it for some categories: a category
    the model confuses often deserves a higher bar). ``desk`` is the owner kind whose
    office keeps the queue for the case's district (its ladder is the queue's ladder);
    without one for the district, the city's ``city_petition_bureau``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_probability: float = Field(default=0.8, gt=0.0, le=1.0)
    per_category: dict[str, Annotated[float, Field(gt=0.0, le=1.0)]] = Field(default_factory=dict)
    queue_within: DeadlineSpec = Field(default_factory=lambda: DeadlineSpec(minutes=30))
    desk: OwnerKind = OwnerKind.DISTRICT_PETITION_BUREAU

    def threshold(self, category: str) -> float:
        return self.per_category.get(category, self.min_probability)


class _RulesFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = Field(min_length=1)
    categories: dict[str, str]
    acknowledge: dict[Urgency, DeadlineSpec]
    tiers: dict[Tier, TierPolicy]
    unmatched: _Unmatched = Field(default_factory=_Unmatched)
    notices: NoticePolicy = Field(default_factory=NoticePolicy)
    triage: TriagePolicy = Field(default_factory=TriagePolicy)
    key_persons: KeyPersonRouting = Field(default_factory=KeyPersonRouting)
    rules: list[Rule]


class RuleSet:
    """A validated rules file: taxonomy, clocks by urgency and tier, and the rules in order."""

    def __init__(self, parsed: _RulesFile, version: str, source: YamlSource) -> None:
        self.version = version
        self.rules: list[Rule] = list(parsed.rules)
        self.categories: dict[str, str] = dict(parsed.categories)
        self.acknowledge: dict[Urgency, DeadlineSpec] = dict(parsed.acknowledge)
        self.tiers: dict[Tier, TierPolicy] = dict(parsed.tiers)
        self.unmatched_tier = parsed.unmatched.tier
        self.unmatched_urgency = parsed.unmatched.urgency
        self.notices = parsed.notices
        self.triage = parsed.triage
        self.key_persons = parsed.key_persons
        self._by_id = {r.id: (i, r) for i, r in enumerate(self.rules)}
        self._source = source

    @classmethod
    def load(cls, path: Path | str) -> RuleSet:
        text, name = read_operator_file(path)
        return cls.from_text(text, file=name)

    @classmethod
    def from_text(cls, text: str, *, file: str = "<rules>") -> RuleSet:
        src = YamlSource(text, file)
        if not isinstance(src.data, dict):
            raise src.error("顶层应为映射 (expected a mapping)")
        try:
            parsed = _RulesFile.model_validate(src.data)
        except ValidationError as exc:
            raise _located(src, exc) from exc
        _check_file(src, parsed)
        digest = hashlib.sha256(text.encode()).hexdigest()[:12]
        return cls(parsed, f"{parsed.version}+{digest}", src)

    def rule(self, rule_id: str) -> Rule:
        return self._by_id[rule_id][1]

    def check_owners(self, directory: OwnerDirectory) -> None:
        """Every owner id a rule names exists in the directory (``$kind`` refs resolve later)."""
        for i, rule in enumerate(self.rules):
            for field in ("lead", "alternates", "co_handlers"):
                value = getattr(rule, field)
                for ref in [value] if isinstance(value, str) else value:
                    if not ref.startswith("$") and directory.get(ref) is None:
                        raise self._source.error(
                            f"单位「{ref}」不在名录中 (unknown owner)",
                            *("rules", i, field), entry=rule.id, field=field,
                        )  # fmt: skip


def _located(src: YamlSource, exc: ValidationError) -> ConfigError:
    """The first pydantic error as a ConfigError pointing at the rule, field and line."""
    err = exc.errors()[0]
    loc = [p if isinstance(p, int) else str(p) for p in err["loc"] if p != "[key]"]
    msg = str(err["msg"]).removeprefix("Value error, ")
    entry: str | None
    if len(loc) > 1 and loc[0] == "rules" and isinstance(loc[1], int):
        entry = _rule_label(src.data.get("rules"), loc[1])
        field = ".".join(str(p) for p in loc[2:]) or None
    else:
        entry = str(loc[0]) if loc else None
        field = ".".join(str(p) for p in loc[1:]) or None
    return src.error(msg, *loc, entry=entry, field=field)


def _rule_label(rules: Any, index: int) -> str:
    """The rule's id as written, else its position (``#3``)."""
    item = rules[index] if isinstance(rules, list) and index < len(rules) else None
    return str(item["id"]) if isinstance(item, dict) and item.get("id") else f"#{index + 1}"


def _check_file(src: YamlSource, parsed: _RulesFile) -> None:
    for code in parsed.categories:
        if not is_category_code(code):
            problem = f"分类代码「{code}」格式不对 (bad category code)"
            raise src.error(problem, "categories", code, entry="categories", field=code)
    for section, members in (("acknowledge", list(Urgency)), ("tiers", list(Tier))):
        missing = [m.value for m in members if m not in getattr(parsed, section)]
        if missing:
            raise src.error(f"缺少 (missing): {', '.join(missing)}", section, entry=section)
    for i, pattern in enumerate(parsed.notices.never_publish):
        if not any(category_matches(pattern, c) for c in parsed.categories):
            problem = f"分类「{pattern}」不在 categories 中 (unknown category)"
            raise src.error(problem, "notices", "never_publish", i, entry="notices",
                            field="never_publish")  # fmt: skip
    for code in parsed.triage.per_category:
        if code not in parsed.categories:
            problem = f"分类「{code}」不在 categories 中 (unknown category)"
            raise src.error(problem, "triage", "per_category", code, entry="triage",
                            field="per_category")  # fmt: skip
    _check_rules(src, parsed)


def _check_rules(src: YamlSource, parsed: _RulesFile) -> None:
    first_at: dict[str, int] = {}
    places: dict[tuple[str, str], str] = {}
    for i, rule in enumerate(parsed.rules):
        problem, field = None, "category"
        place = (rule.category, rule.where.path())
        if rule.id in first_at:
            problem, field = f"规则 id 重复，第 {first_at[rule.id] + 1} 条已用 (duplicate id)", "id"
        elif not any(category_matches(rule.category, c) for c in parsed.categories):
            problem = f"分类「{rule.category}」不在 categories 中 (unknown category)"
        elif place in places:
            problem = f"与规则 {places[place]} 的分类和地点相同，永远不会生效 (shadowed)"
        if problem:
            raise src.error(problem, "rules", i, field, entry=rule.id, field=field)
        first_at[rule.id] = i
        places[place] = rule.id
