"""What the public notice board (公示) may show: the ``notices`` section of the rules file.

Published matters are public to anyone without a key, so the board never shows a
sensitive category (family disputes, family violence: a household is easy to recognise
among a few dozen flats) and never a place finer than a community (a grid or a compound
can be a handful of households). Which categories are sensitive is operator data
(``never_publish``: exact codes or ``prefix.*``); the finest level may be made coarser,
never finer.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.domain.taxonomy import LEVELS, category_matches, is_category_pattern

PublicLevel = Literal["district", "street", "community"]


class NoticePolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    never_publish: tuple[str, ...] = Field(default=())
    finest_level: PublicLevel = "community"

    @field_validator("never_publish")
    @classmethod
    def _patterns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in value:
            if not is_category_pattern(pattern):
                raise ValueError(f"分类「{pattern}」应为 a.b 或 a.* (exact code or prefix.*)")
        return value

    def publishable(self, category: str) -> bool:
        return not any(category_matches(p, category) for p in self.never_publish)

    def public_place(self, location: dict[str, Any]) -> dict[str, str]:
        """The place down to ``finest_level`` at most (the levels above it kept)."""
        shown = LEVELS[: LEVELS.index(self.finest_level) + 1]
        return {k: str(location[k]) for k in shown if location.get(k)}

    def hidden_prefixes(self) -> tuple[list[str], list[str]]:
        """(exact codes, ``prefix.`` strings) never published, for a database filter."""
        exact = [p for p in self.never_publish if not p.endswith(".*")]
        return exact, [p[:-1] for p in self.never_publish if p.endswith(".*")]
