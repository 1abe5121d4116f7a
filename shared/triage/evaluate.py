"""Cross-validated evaluation of the triage method on one labelled file.

Stratified folds with a fixed seed. A class with fewer rows than folds cannot be tested in
every fold: its rows are kept in every training fold, never tested, and named in the report.
All scores are on the pooled out-of-fold suggestions (each tested row scored once, by a
model that never saw it).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.model_selection import StratifiedKFold

from shared.triage import metrics
from shared.triage.errors import TriageDataError
from shared.triage.model import Model, Suggestion
from shared.triage.neardup import NearDuplicates, near_duplicates

Progress = Callable[[str], None]
TARGET_PRECISION = 0.95


@dataclass
class Evaluation:
    rows: int
    classes: int
    folds: int
    seed: int
    tested_rows: int
    training_only: dict[str, int]  # class → rows, too few to test
    accuracy: float
    macro_f1: float
    top3_accuracy: float
    fold_accuracy: list[float]
    abstention: list[metrics.AbstentionRow]
    operating_point: metrics.OperatingPoint | None
    near: NearDuplicates
    hardest: list[tuple[str, float, int]]  # class, F1, test rows: the five weakest
    seconds: float
    examples: list[tuple[str, str, float]] = field(default_factory=list)  # near-dup pairs


def evaluate(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    folds: int = 5,
    seed: int = 42,
    progress: Progress = lambda _: None,
) -> Evaluation:
    started = time.monotonic()
    counts = Counter(labels)
    rare = {c: n for c, n in counts.items() if n < folds}
    testable = np.array([i for i, y in enumerate(labels) if y not in rare])
    _check(folds, counts, rare)
    fold_of = np.full(len(texts), -1)
    y = np.asarray(labels)
    truth: list[str] = []
    got: list[Suggestion] = []
    fold_acc: list[float] = []
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    for k, (tr, te) in enumerate(splitter.split(testable, y[testable]), start=1):
        train_idx = np.concatenate([testable[tr], np.flatnonzero(np.isin(y, list(rare)))])
        test_idx = testable[te]
        fold_of[test_idx] = k
        model = Model.train([texts[i] for i in train_idx], list(y[train_idx]), seed=seed)
        suggestions = model.suggest_many([texts[i] for i in test_idx])
        fold_truth = list(y[test_idx])
        fold_acc.append(metrics.accuracy(fold_truth, [s.label for s in suggestions]))
        truth += fold_truth
        got += suggestions
        progress(
            f"第 {k}/{folds} 折 (fold): 训练 {len(train_idx)} 行, 测试 {len(test_idx)} 行, 准确率 {fold_acc[-1]:.3f}"
        )
    progress("查找跨折近似重复 (near-duplicates across folds)")
    near = near_duplicates(texts, fold_of.tolist())
    return _summarise(texts, labels, truth, got, fold_acc, near, rare, folds, seed, started)


def _check(folds: int, counts: Counter[str], rare: dict[str, int]) -> None:
    if folds < 2:
        raise TriageDataError(f"折数至少为 2 (folds must be at least 2; got {folds})")
    if len(counts) < 2:
        raise TriageDataError(f"至少需要两个类别 (need at least two classes; got {len(counts)})")
    if len(counts) - len(rare) < 2:
        raise TriageDataError(
            f"行数不少于 {folds} 的类别不足两个，无法分折评估 "
            f"(fewer than two classes have at least {folds} rows; try fewer --folds)"
        )


def _summarise(
    texts: Sequence[str],
    labels: Sequence[str],
    truth: list[str],
    got: list[Suggestion],
    fold_acc: list[float],
    near: NearDuplicates,
    rare: dict[str, int],
    folds: int,
    seed: int,
    started: float,
) -> Evaluation:
    predicted = [s.label for s in got]
    confidence = [s.probability for s in got]
    correct = [t == p for t, p in zip(truth, predicted, strict=True)]
    f1 = metrics.per_class_f1(truth, predicted)
    support = Counter(truth)
    hardest = sorted(((c, f1[c], support[c]) for c in support), key=lambda r: r[1])[:5]
    return Evaluation(
        rows=len(texts),
        classes=len(set(labels)),
        folds=folds,
        seed=seed,
        tested_rows=len(truth),
        training_only=dict(sorted(rare.items())),
        accuracy=metrics.accuracy(truth, predicted),
        macro_f1=metrics.macro_f1(truth, predicted),
        top3_accuracy=metrics.top_k_accuracy(truth, [[c for c, _ in s.top] for s in got]),
        fold_accuracy=fold_acc,
        abstention=metrics.abstention_table(confidence, correct),
        operating_point=metrics.threshold_for_precision(confidence, correct, TARGET_PRECISION),
        near=near,
        hardest=hardest,
        seconds=time.monotonic() - started,
        examples=[(texts[p.first], texts[p.second], p.similarity) for p in near.examples],
    )
