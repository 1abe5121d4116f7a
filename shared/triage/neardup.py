"""Near-duplicate texts across evaluation folds: the same complaint (a caller's repeat, a
copied template) in a training fold and a test fold flatters the score.

Two kinds are counted, as rows that have a match in another fold: exact duplicates after
normalisation (case, width, digits, punctuation and spaces ignored), and texts whose
character 3-gram sets have a Jaccard similarity of at least ``threshold``. Similarities are
computed in blocks of a sparse matrix product (seconds for several thousand rows); only a
few pairs are kept as examples, the rest are counted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from shared.triage.text import bare, shingles

BLOCK = 512
EXAMPLES = 5


@dataclass(frozen=True)
class NearPair:
    first: int
    second: int
    similarity: float


@dataclass
class NearDuplicates:
    threshold: float
    exact_rows: int = 0  # rows with an exact duplicate (normalised) in another fold
    near_rows: int = 0  # rows with a match at Jaccard ≥ threshold in another fold
    pairs: int = 0  # such pairs, each counted once
    examples: list[NearPair] = field(default_factory=list)  # near but not identical first


def near_duplicates(
    texts: Sequence[str], groups: Sequence[int], *, threshold: float = 0.8
) -> NearDuplicates:
    """Rows and pairs in different groups (folds) with Jaccard ≥ threshold. A group of -1
    is in every training fold, so it pairs with every other group."""
    g = np.asarray(groups)
    result = NearDuplicates(threshold, exact_rows=_exact_rows([bare(t) for t in texts], g))
    sets = [shingles(t) for t in texts]
    matrix = _incidence(sets)
    sizes = np.asarray(matrix.sum(axis=1)).ravel()
    near = np.zeros(len(texts), bool)
    candidates: list[NearPair] = []
    for start in range(0, len(texts), BLOCK):
        stop = min(start + BLOCK, len(texts))
        inter = (matrix[start:stop] @ matrix.T).toarray()
        union = sizes[start:stop, None] + sizes[None, :] - inter
        jaccard = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
        hits = (jaccard >= threshold) & (g[start:stop, None] != g[None, :])
        near[start:stop] = hits.any(axis=1)
        upper = hits & (np.arange(start, stop)[:, None] < np.arange(len(texts))[None, :])
        result.pairs += int(upper.sum())
        candidates += _examples(upper, jaccard, start)
    result.near_rows = int(near.sum())
    result.examples = sorted(candidates, key=lambda p: p.similarity)[:EXAMPLES]
    return result


def _exact_rows(keys: list[str], g: NDArray[np.int_]) -> int:
    folds_of: dict[str, set[int]] = defaultdict(set)
    for key, group in zip(keys, g.tolist(), strict=True):
        folds_of[key].add(group)
    return sum(len(folds_of[k]) > 1 for k in keys)


def _examples(upper: NDArray[np.bool_], jaccard: NDArray[np.float64], start: int) -> list[NearPair]:
    """A few pairs of the block, the least similar (most telling) first."""
    rows, cols = np.nonzero(upper)
    if len(rows) == 0:
        return []
    order = np.argsort(jaccard[rows, cols], kind="stable")[:EXAMPLES]
    return [
        NearPair(start + int(rows[k]), int(cols[k]), round(float(jaccard[rows[k], cols[k]]), 3))
        for k in order
    ]


def _incidence(sets: Sequence[set[str]]) -> sp.csr_matrix:
    vocab: dict[str, int] = {}
    rows, cols = [], []
    for i, s in enumerate(sets):
        for gram in s:
            rows.append(i)
            cols.append(vocab.setdefault(gram, len(vocab)))
    data = np.ones(len(rows), dtype=np.float32)
    return sp.csr_matrix((data, (rows, cols)), shape=(len(sets), max(len(vocab), 1)))
