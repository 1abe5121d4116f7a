"""Scores of a set of suggestions against the truth (pure: lists in, numbers out).

The abstention table answers the dispatcher's question: if the model routes by itself only
when its top probability reaches t, what share of cases does it route (coverage) and how
many of those are right (precision)? ``threshold_for_precision`` finds the lowest such t
whose routed cases are right at least ``target`` of the time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

THRESHOLDS = (0.0, 0.3, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.97, 0.99)


@dataclass(frozen=True)
class AbstentionRow:
    threshold: float
    coverage: float
    precision: float | None  # None: nothing routed at this threshold
    routed: int


@dataclass(frozen=True)
class OperatingPoint:
    threshold: float
    coverage: float
    precision: float


def accuracy(truth: Sequence[str], predicted: Sequence[str]) -> float:
    return sum(t == p for t, p in zip(truth, predicted, strict=True)) / len(truth)


def top_k_accuracy(truth: Sequence[str], ranked: Sequence[Sequence[str]], k: int = 3) -> float:
    return sum(t in r[:k] for t, r in zip(truth, ranked, strict=True)) / len(truth)


def per_class_f1(truth: Sequence[str], predicted: Sequence[str]) -> dict[str, float]:
    """F1 of every label that occurs in the truth or the predictions."""
    pairs = list(zip(truth, predicted, strict=True))
    result: dict[str, float] = {}
    for label in sorted(set(truth) | set(predicted)):
        tp = sum(t == label and p == label for t, p in pairs)
        fp = sum(t != label and p == label for t, p in pairs)
        fn = sum(t == label and p != label for t, p in pairs)
        result[label] = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return result


def macro_f1(truth: Sequence[str], predicted: Sequence[str]) -> float:
    scores = per_class_f1(truth, predicted)
    return sum(scores.values()) / len(scores)


def abstention_table(
    confidence: Sequence[float], correct: Sequence[bool], thresholds: Sequence[float] = THRESHOLDS
) -> list[AbstentionRow]:
    rows = []
    for t in thresholds:
        routed = [c for p, c in zip(confidence, correct, strict=True) if p >= t]
        precision = sum(routed) / len(routed) if routed else None
        rows.append(AbstentionRow(t, len(routed) / len(confidence), precision, len(routed)))
    return rows


def threshold_for_precision(
    confidence: Sequence[float], correct: Sequence[bool], target: float = 0.95
) -> OperatingPoint | None:
    """The lowest observed confidence t such that cases with confidence ≥ t are right at
    least ``target`` of the time (the widest coverage at that precision); None if even the
    most confident case alone misses it."""
    ranked = sorted(zip(confidence, correct, strict=True), key=lambda pc: -pc[0])
    best: OperatingPoint | None = None
    hits = 0
    for i, (p, ok) in enumerate(ranked):
        hits += ok
        tie_continues = i + 1 < len(ranked) and ranked[i + 1][0] == p
        if not tie_continues and hits / (i + 1) >= target:
            best = OperatingPoint(p, (i + 1) / len(ranked), hits / (i + 1))
    return best
