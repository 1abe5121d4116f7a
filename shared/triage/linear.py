"""The classifier: a linear SVM (one-vs-rest, squared hinge) with softened class weights,
turned into probabilities by a softmax whose temperature is fitted on out-of-fold scores.

Why this shape: on sparse n-gram features a linear SVM is as accurate as anything cheap and
trains in seconds; its scores rank well but are not probabilities. One temperature, fitted
by log-loss on scores the model made for rows it did not see, keeps the ranking and makes
"p = 0.93" mean about 93 % right, with one parameter that a class of two rows cannot break
(per-class calibration needs rows of every class in every fold; this does not).
Class weights are (n / (k · n_c)) ** 0.5: halfway between none (the big classes swallow the
small) and fully balanced (the small ones pull too many of the big ones' cases).
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.optimize import minimize_scalar
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.svm import LinearSVC

C = 0.5
TOLERANCE = 1e-3
MAX_ITER = 1000  # passes of dual coordinate descent: clean data converges in tens; heavily
# weighted duplicates with conflicting labels need hundreds, or the result depends on the seed
CALIBRATION_FOLDS = 3
LARGE = 3000  # rows from which 2 calibration folds suffice (and halve the work)
MIN_ROWS_TO_CALIBRATE = 30
DEFAULT_TEMPERATURE = 5.0

Floats = NDArray[np.float32]


@dataclass
class LinearScores:
    """Weights (features × classes, so one text's few features are a row gather), intercepts
    and the class names in column order."""

    weights: Floats
    intercept: Floats
    classes: list[str]

    def scores(self, x: sp.csr_matrix) -> Floats:
        return self._both_sides(np.asarray(x @ self.weights, dtype=np.float32) + self.intercept)

    def scores_one(self, indices: NDArray[np.intp], values: Floats) -> Floats:
        """Scores of one text given as its non-zero features (the fast path of suggest)."""
        raw = values @ self.weights[indices] + self.intercept
        return self._both_sides(raw[None, :])

    def _both_sides(self, raw: Floats) -> Floats:
        if len(self.classes) == 2 and raw.shape[1] == 1:  # a binary SVM has one score
            return np.hstack([-raw, raw])
        return raw


def class_weights(labels: Sequence[str]) -> dict[str, float]:
    counts = Counter(labels)
    n, k = len(labels), len(counts)
    return {c: (n / (k * m)) ** 0.5 for c, m in counts.items()}


def fit_linear(x: sp.csr_matrix, labels: Sequence[str], *, seed: int) -> LinearScores:
    rows, y, weight = collapse_duplicates(x, labels)
    svm = LinearSVC(
        C=C, class_weight=class_weights(labels), random_state=seed, tol=TOLERANCE, max_iter=MAX_ITER
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        svm.fit(x[rows], y, sample_weight=weight)
    return LinearScores(
        weights=np.ascontiguousarray(svm.coef_.T, dtype=np.float32),
        intercept=np.asarray(svm.intercept_, dtype=np.float32),
        classes=[str(c) for c in svm.classes_],
    )


def collapse_duplicates(
    x: sp.csr_matrix, labels: Sequence[str]
) -> tuple[NDArray[np.intp], NDArray[np.str_], NDArray[np.float64]]:
    """One row per distinct (features, label), weighted by how often it occurs: the same
    objective (identical hinge terms add up), but templated data (thousands of copies of
    a few texts, some with conflicting labels) no longer stalls the solver."""
    first: dict[tuple[str, bytes, bytes], int] = {}
    count: dict[int, int] = {}
    for i, label in enumerate(labels):
        lo, hi = x.indptr[i], x.indptr[i + 1]
        j = first.setdefault((label, x.indices[lo:hi].tobytes(), x.data[lo:hi].tobytes()), i)
        count[j] = count.get(j, 0) + 1
    rows = np.fromiter(count.keys(), np.intp, len(count))
    weight = np.fromiter(count.values(), np.float64, len(count))
    return rows, np.asarray(labels)[rows], weight


def softmax(scores: Floats, temperature: float) -> Floats:
    z = scores * temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: Floats = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
    return out


@dataclass
class Fitted:
    linear: LinearScores
    temperature: float
    held_out: Floats | None = None  # out-of-fold probabilities, columns in sorted-label order
    truth: NDArray[np.intp] | None = None  # their true columns


def fit(x: sp.csr_matrix, labels: Sequence[str], *, seed: int) -> Fitted:
    """The SVM on all rows and the temperature from out-of-fold scores. Sequential on
    purpose: liblinear's fits share global state, and two at once on threads gave
    different, worse weights."""
    y = np.asarray(labels)
    linear = fit_linear(x, labels, seed=seed)
    if len(y) < MIN_ROWS_TO_CALIBRATE:
        return Fitted(linear, DEFAULT_TEMPERATURE)
    folds = _folds(y, seed=seed)
    fitted = [fit_linear(x[tr], list(y[tr]), seed=seed) for tr, _ in folds]
    oof, truth = _out_of_fold_scores(x, y, fitted, [te for _, te in folds])
    temperature = fit_temperature(oof, truth)
    return Fitted(linear, temperature, softmax(oof, temperature), truth)


def fit_temperature(oof: Floats, truth: NDArray[np.intp]) -> float:
    """The softmax temperature minimising log-loss on out-of-fold scores."""

    def loss(log_t: float) -> float:
        p = softmax(oof, float(np.exp(log_t)))
        return float(-np.mean(np.log(p[np.arange(len(truth)), truth] + 1e-12)))

    best = minimize_scalar(loss, bounds=(np.log(0.1), np.log(100.0)), method="bounded")
    return float(np.exp(best.x))


def _out_of_fold_scores(
    x: sp.csr_matrix, y: NDArray[np.str_], fitted: list[LinearScores], tests: list[NDArray[np.intp]]
) -> tuple[Floats, NDArray[np.intp]]:
    """Scores of each held-out row by the fold model that did not see it (rows of no fold,
    possible when a fold lacked a class and was dropped, are left out)."""
    classes = sorted(set(y.tolist()))
    index = {c: i for i, c in enumerate(classes)}
    oof = np.zeros((len(y), len(classes)), dtype=np.float32)
    for model, test in zip(fitted, tests, strict=True):
        s = model.scores(x[test])
        oof[test] = s.min() - 1.0  # a class the fold never saw: below every score it gave
        for j, c in enumerate(model.classes):
            oof[test, index[c]] = s[:, j]
    held = np.concatenate(tests)
    return oof[held], np.array([index[c] for c in y[held]])


def _folds(y: NDArray[np.str_], *, seed: int) -> list[tuple[NDArray[np.intp], NDArray[np.intp]]]:
    k = 2 if len(y) >= LARGE else CALIBRATION_FOLDS
    if min(Counter(y.tolist()).values()) >= k:
        strat = StratifiedKFold(k, shuffle=True, random_state=seed)
        return list(strat.split(np.zeros(len(y)), y))
    plain = KFold(k, shuffle=True, random_state=seed)
    return [(tr, te) for tr, te in plain.split(y) if len(set(y[tr].tolist())) >= 2]
