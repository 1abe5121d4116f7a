"""The triage model and ``shaobao triage``: train, suggest, save/load, evaluate on the
synthetic sample (tests/data/triage_sample.csv, from scripts/gen_triage_sample.py)."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from scripts.gen_triage_sample import OUT as SAMPLE
from scripts.gen_triage_sample import render
from shared.cli.main import app as shaobao
from shared.triage.errors import TriageDataError
from shared.triage.model import Model, latest, sidecar_path

ROOT = Path(__file__).resolve().parents[2]


def _sample() -> tuple[list[str], list[str]]:
    with SAMPLE.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [r["诉求内容"] for r in rows], [r["类别"] for r in rows]


@pytest.fixture(scope="module")
def model() -> Model:
    texts, labels = _sample()
    return Model.train(texts, labels, seed=7)


def test_sample_file_is_current_and_labelled_with_the_rules_categories() -> None:
    assert SAMPLE.read_text(encoding="utf-8") == render(), "run scripts/gen_triage_sample.py"
    rules = yaml.safe_load((ROOT / "config" / "rules.yaml").read_text(encoding="utf-8"))
    # every category a case can route by (the reserved "unclassified" is no matter)
    assert set(_sample()[1]) == set(rules["categories"]) - {"unclassified"}


def test_suggestion_is_three_labels_most_likely_first_with_the_version(model: Model) -> None:
    s = model.suggest("和平里小区3号楼电梯又停了，老人下不了楼")
    assert s.label == "property.elevator"
    assert len(s.top) == 3
    probabilities = [p for _, p in s.top]
    assert probabilities == sorted(probabilities, reverse=True)
    assert 0 < sum(probabilities) <= 1.0001
    assert s.version == model.version and s.version.startswith("triage-")


def test_the_fast_single_text_path_agrees_with_the_batch_path(model: Model) -> None:
    texts = [*_sample()[0][:60], "", "？？？", "完全无关的文字abc"]
    for one, batch in zip(
        [model.suggest(t) for t in texts], model.suggest_many(texts), strict=True
    ):
        assert [c for c, _ in one.top] == [c for c, _ in batch.top]
        assert [p for _, p in one.top] == pytest.approx([p for _, p in batch.top], abs=1e-5)


def test_the_fast_features_are_scikit_learns_numbers(model: Model) -> None:
    """The fast paths (one text, a batch) count n-grams themselves: they must give the
    very matrix the fitted vectorizers give, row by row and view by view."""
    texts = [*_sample()[0][:80], "", "？？？", "完全无关的文字abc", "电梯 电梯 电梯 12345 停运"]
    f = model.featurizer
    truth = f.transform(texts).toarray()
    assert f.many(texts).toarray() == pytest.approx(truth, abs=1e-6)
    for row, text in zip(truth, texts, strict=True):
        index, values = f.one(text)
        mine = np.zeros_like(row)
        mine[index] = values
        assert mine == pytest.approx(row, abs=1e-6)


def test_a_suggestion_costs_well_under_a_few_milliseconds(model: Model) -> None:
    model.suggest("预热")
    started = time.perf_counter()
    for _ in range(200):
        model.suggest("楼下烧烤店油烟太大，开不了窗")
    per_call = (time.perf_counter() - started) / 200
    assert per_call < 0.005  # measured 0.2-0.3 ms; loose bound for a shared machine


def test_saved_model_loads_and_suggests_the_same(model: Model, tmp_path: Path) -> None:
    path = model.save(tmp_path, metrics={"accuracy": 0.9})
    assert path.name == f"{model.version}.joblib" and latest(tmp_path) == path
    meta = json.loads(sidecar_path(path).read_text(encoding="utf-8"))
    assert meta["version"] == model.version and meta["classes"] == model.classes
    assert meta["training_rows"] == len(_sample()[0]) and meta["metrics"] == {"accuracy": 0.9}
    held_out = meta["out_of_fold"]
    assert held_out["rows"] == len(_sample()[0]) and 0.5 < held_out["accuracy"] <= 1
    assert 0 < held_out["threshold_95"] < 1 and 0 < held_out["coverage_95"] <= 1
    text = "邻居装修电钻声太吵"
    assert Model.load(path).suggest(text) == model.suggest(text)


def test_a_model_file_that_does_not_match_its_sidecar_is_refused(
    model: Model, tmp_path: Path
) -> None:
    path = model.save(tmp_path)
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(TriageDataError, match="checksum"):
        Model.load(path)


def test_a_model_file_without_its_sidecar_is_refused(model: Model, tmp_path: Path) -> None:
    path = model.save(tmp_path)
    sidecar_path(path).unlink()
    with pytest.raises(TriageDataError, match="sidecar unreadable"):
        Model.load(path)


def test_one_class_only_is_refused() -> None:
    with pytest.raises(TriageDataError, match="至少需要两个类别"):
        Model.train(["电梯坏了", "电梯停了"], ["a", "a"])


def test_two_classes_give_two_suggestions_both_ways() -> None:
    texts, labels = _sample()
    pair = [(t, y) for t, y in zip(texts, labels, strict=True) if y.startswith("neighbour.r")]
    pair += [(t, y) for t, y in zip(texts, labels, strict=True) if y == "public.streetlight"]
    m = Model.train([t for t, _ in pair], [y for _, y in pair], seed=3)
    for text, label in pair[:5] + pair[-5:]:
        one, batch = m.suggest(text), m.suggest_many([text])[0]
        assert len(one.top) == 2 and one.label == batch.label == label
        assert one.probability == pytest.approx(batch.probability, abs=1e-5)


def test_classes_of_one_or_two_rows_train_without_error() -> None:
    texts, labels = _sample()
    texts += ["独一无二的诉求：井盖丢失", "路边井盖被偷了", "共享单车堆满人行道"]
    labels += ["public.manhole", "public.manhole", "public.bikes"]
    m = Model.train(texts, labels, seed=1)
    assert {"public.manhole", "public.bikes"} <= set(m.classes)


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(shaobao, ["triage", *args])
    return result.exit_code, result.stdout, result.stderr


def test_evaluate_reports_scores_abstention_and_near_duplicates() -> None:
    code, out, err = _run("evaluate", "--data", str(SAMPLE), "--folds", "5", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["classes"] == 20 and report["folds"] == 5 and report["seed"] == 42
    assert report["accuracy"] > 0.5  # chance is 1/20; the sample is not tuned against
    assert report["top3_accuracy"] >= report["accuracy"]
    assert 0 < report["macro_f1"] <= 1
    assert report["training_only"] == {"family.violence": 3}
    thresholds = [row["threshold"] for row in report["abstention"]]
    assert thresholds == sorted(thresholds) and report["abstention"][0]["coverage"] == 1.0
    assert set(report["operating_point"]) == {"threshold", "coverage", "precision"}
    assert report["near_duplicates"]["near_rows"] > 0  # the sample has repeats on purpose
    assert "第 5/5 折" in err  # progress per fold


def test_evaluate_prints_a_readable_report() -> None:
    code, out, _ = _run("evaluate", "--data", str(SAMPLE), "--folds", "2", "--seed", "1")
    assert code == 0
    for heading in ("准确率", "宏平均 F1", "前三命中率", "自动派单阈值表", "跨折近似重复"):
        assert heading in out


def test_evaluate_refuses_when_fewer_than_two_classes_fill_the_folds(tmp_path: Path) -> None:
    path = tmp_path / "tiny.csv"
    rows = ["电梯坏了,a"] * 6 + ["路灯不亮,b"] * 2
    path.write_text("text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    code, _, err = _run("evaluate", "--data", str(path), "--folds", "5")
    assert code == 2 and "fewer than two classes have at least 5 rows" in err


def test_train_writes_a_model_file_that_loads(tmp_path: Path) -> None:
    code, out, err = _run("train", "--from", str(SAMPLE), "--out", str(tmp_path))
    assert code == 0, err
    path = latest(tmp_path)
    assert path is not None and path.name in out
    assert Model.load(path).suggest("路灯不亮").label == "public.streetlight"


@pytest.mark.parametrize(
    ("content", "args", "reason"),
    [
        ("text,label\n漏水,a\n", ["--label-column", "类别"], "找不到类别列"),
        ("", [], "文件是空的"),
        ("text,label\n漏水,a\n电梯,a\n", [], "至少需要两个类别"),
    ],
)
def test_unusable_data_is_refused_with_a_reason(
    tmp_path: Path, content: str, args: list[str], reason: str
) -> None:
    path = tmp_path / "data.csv"
    path.write_text(content, encoding="utf-8")
    for command in (["evaluate", "--data"], ["train", "--out", str(tmp_path), "--from"]):
        code, _, err = _run(*command, str(path), *args)
        assert code == 2 and reason in err
