"""Every text field of intake's request schemas refuses NUL and lone surrogates (issue 17).

Walks the models instead of listing fields, so a field added later is checked too.
"""

from __future__ import annotations

from typing import Any, get_args

import pytest
from pydantic import BaseModel, ValidationError

from services.intake.api.admin import ContactCorrection
from services.intake.api.feedback import FeedbackCreate
from services.intake.schemas import CaseBatch, CaseCreate
from tests.e2e.test_first_case import ELEVATOR

VALID: dict[type[BaseModel], dict[str, Any]] = {
    CaseCreate: ELEVATOR
    | {
        "external_id": "E-1",
        "channel": "wechat",
        "received_by": "窗口-陈",
        "mediation_outcome": "和解",
        "petitioner": {"name": "王", "phone": "13900001111", "email": "a@b.cn"},
        "related_refs": [{"channel": "wechat", "ref": "R-1"}],
    },
    FeedbackCreate: {"rating": "satisfied", "comment": "好"},
    ContactCorrection: {"name": "王", "phone": "13900001111", "email": "a@b.cn"},
}


def _text_paths(model: type[BaseModel], prefix: tuple[str | int, ...] = ()) -> list[tuple]:
    """The path of every ``str`` field, through nested models and lists (index 0)."""
    paths: list[tuple] = []
    for name, info in model.model_fields.items():
        here = (*prefix, name)
        kinds = [info.annotation, *get_args(info.annotation)]
        kinds += [a for k in kinds for a in get_args(k)]
        if str in kinds:
            paths.append(here)
        for k in kinds:
            if isinstance(k, type) and issubclass(k, BaseModel):
                listed = any(getattr(t, "__origin__", None) is list for t in kinds)
                paths += _text_paths(k, (*here, 0) if listed else here)
    return paths


def _with(body: Any, path: tuple, value: str) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(head, int):
        return [_with(body[0], rest, value)]
    return dict(body) | {head: _with(body.get(head) or {}, rest, value)}


CASES = [
    (model, path, bad)
    for model, body in VALID.items()
    for path in _text_paths(model)
    for bad in ("a\udfffb", "a\x00b")
]


def test_the_walk_finds_the_fields_the_issue_named() -> None:
    found = {".".join(map(str, p)) for p in _text_paths(CaseCreate)}
    assert {"external_id", "received_by", "petitioner.name", "petitioner.email"} <= found
    assert "related_refs.0.ref" in found


@pytest.mark.parametrize(("model", "path", "bad"), CASES, ids=lambda v: repr(v)[:40])
def test_every_text_field_refuses_nul_and_lone_surrogates(
    model: type[BaseModel], path: tuple, bad: str
) -> None:
    body = VALID[model]
    model.model_validate(body)
    with pytest.raises(ValidationError) as err:
        model.model_validate(_with(body, path, bad))
    assert any(tuple(e["loc"][: len(path)]) == path for e in err.value.errors())


def test_a_batch_names_the_case_whose_text_is_bad() -> None:
    good = VALID[CaseCreate]
    with pytest.raises(ValidationError) as err:
        CaseBatch.model_validate({"cases": [good, good | {"received_by": "\udfff"}]})
    assert err.value.errors()[0]["loc"] == ("cases", 1, "received_by")
