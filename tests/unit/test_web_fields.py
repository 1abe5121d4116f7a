"""Free text in requests: what a person types passes, control characters are refused."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field, ValidationError

from shared.web.fields import Text


class Note(BaseModel):
    note: Text = Field(max_length=20)


def test_tabs_newlines_and_chinese_pass() -> None:
    assert Note(note="第一行\n第二行\t完").note == "第一行\n第二行\t完"


@pytest.mark.parametrize("bad", ["a\x00b", "\x07", "x\x1by", "\x7f"])
def test_a_control_character_is_refused_with_a_chinese_reason(bad: str) -> None:
    with pytest.raises(ValidationError, match="不能包含控制字符"):
        Note(note=bad)


def test_the_rule_is_in_the_json_schema() -> None:
    assert Note.model_json_schema()["properties"]["note"]["pattern"].startswith("^[^\\x00")
