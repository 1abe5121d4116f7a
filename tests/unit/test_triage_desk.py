"""Intake's triage desk without I/O beyond a temporary folder: what it decides for a
submission, and how it takes a newer model file (services/intake/triage.py)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from services.intake.schemas import CaseCreate
from services.intake.triage import GazetteerPlaces, TriageDesk
from shared.domain.places import Gazetteer
from shared.domain.rules import RuleSet, TriagePolicy
from shared.domain.triage_rules import UNCLASSIFIED
from shared.triage.model import Model, sidecar_path

ROOT = Path(__file__).resolve().parents[2]
RULES = RuleSet.load(ROOT / "config" / "rules.yaml")
PLACES = GazetteerPlaces(Gazetteer.load(ROOT / "config" / "places.yaml"))


@pytest.fixture(scope="module")
def model() -> Model:
    with (ROOT / "tests" / "data" / "triage_sample.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return Model.train([r["诉求内容"] for r in rows], [r["类别"] for r in rows], seed=3)


def _desk(model: Model | None, policy: TriagePolicy = RULES.triage) -> TriageDesk:
    desk = TriageDesk(policy, RULES.categories, places=PLACES)
    desk.model = model
    return desk


def _body(**given: object) -> CaseCreate:
    return CaseCreate.model_validate({"title": "反映问题", "description": "有件事想反映"} | given)


def test_a_sure_text_and_an_address_route_by_themselves(model: Model) -> None:
    body = _body(title="楼道里电动车充电", description="楼道里有人给电动车充电，太危险了",
                 address="锦绣花园3号楼")  # fmt: skip
    _desk(model).apply(body)
    assert body.code == "fire.ebike_charging"
    assert body.place.compound == "d01.s01.c01.g02.k01"
    info = body._triage
    assert info is not None and info.auto and info.model_version == model.version
    assert info.suggestions[0].category == "fire.ebike_charging"


def test_below_the_threshold_the_matter_waits_for_a_person(model: Model) -> None:
    body = _body(address="锦绣花园3号楼")
    _desk(model).apply(body)
    assert body.code == UNCLASSIFIED
    assert body._triage is not None and not body._triage.auto
    assert "模型把握不足" in body._triage.reason
    assert body.place.compound == "d01.s01.c01.g02.k01"  # the place is kept


def test_a_category_of_its_own_bar_is_held_to_it(model: Model) -> None:
    strict = TriagePolicy(min_probability=0.5, per_category={"fire.ebike_charging": 1.0})
    body = _body(title="楼道里电动车充电", description="楼道里有人给电动车充电",
                 address="锦绣花园3号楼")  # fmt: skip
    _desk(model, strict).apply(body)
    assert body.code == UNCLASSIFIED and "< 1.00" in body._triage.reason  # type: ignore[union-attr]


def test_no_model_and_no_place_both_say_why(model: Model) -> None:
    body = _body(description="门口路灯坏了")
    _desk(None).apply(body)
    reason = body._triage.reason  # type: ignore[union-attr]
    assert "未启用分诊模型" in reason and "地点不明" in reason
    assert body.place.model_dump() == dict.fromkeys(body.place.model_dump())


def test_a_coded_submission_is_left_as_it_came(model: Model) -> None:
    body = _body(category="property.fee", location={"district": "d01"})
    _desk(model).apply(body)
    assert body.code == "property.fee" and body._triage is None


def test_a_given_category_with_an_address_only_looks_up_the_place(model: Model) -> None:
    body = _body(category="property.fee", address="光明小区2号楼")
    _desk(model).apply(body)
    info = body._triage
    assert body.code == "property.fee" and info is not None and info.auto
    assert info.category_given and info.model_version is None


def test_a_model_being_copied_in_is_taken_once_whole_and_a_bad_one_never(
    model: Model, tmp_path: Path
) -> None:
    desk = TriageDesk(RULES.triage, RULES.categories, models=tmp_path)
    assert desk.load_newest() is False and desk.model is None  # an empty folder
    saved = model.save(tmp_path / "staging")
    target = tmp_path / saved.name
    shutil.copy(saved, target)  # the model file arrives before its sidecar
    assert desk.load_newest() is False and desk.model is None
    shutil.copy(sidecar_path(saved), sidecar_path(target))
    assert desk.load_newest() is True and desk.model is not None
    assert desk.model.version == model.version
    newer = tmp_path / saved.name.replace("triage-", "triage-z")  # sorts after it
    newer.write_bytes(b"not a model")
    sidecar_path(newer).write_text(sidecar_path(saved).read_text(encoding="utf-8"))
    assert desk.load_newest() is False  # checksum mismatch: refused, the old one stays
    assert desk.model.version == model.version
    newer.unlink()
    sidecar_path(newer).unlink()
    assert desk.load_newest() is False  # back to the one in force: nothing to do
