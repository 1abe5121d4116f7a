"""Near-duplicate texts across evaluation folds: the same complaint (a caller's repeat, a
copied template) in a training fold and a test fold flatters the score.

Two kinds are counted: exact duplicates after normalisation (case, width, digits,
punctuation and spaces ignored) and pairs whose character 3-gram sets have a Jaccard
similarity of at least ``threshold``. Similarities are computed in blocks of a sparse
matrix product, so several thousand rows take seconds, not minutes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from shared.triage.text import bare, shingles

BLOCK = 512


@dataclass(frozen=True)
class NearPair:
    first: int
    second: int
    similarity: float


@dataclass
class NearDuplicates:
    """Rows (indices) with a match in another group, and pairs found."""

    threshold: float
    exact_rows: int = 0
    near_rows: int = 0
    pairs: list[NearPair] = field(default_factory=list)


def near_duplicates(
    texts: Sequence[str], groups: Sequence[int], *, threshold: float = 0.8
) -> NearDuplicates:
    """Pairs of texts in different groups (folds) with Jaccard ≥ threshold. A group of -1
    is in every training fold, so it pairs with every other group."""
    sets = [shingles(t) for t in texts]
    keys = [bare(t) for t in texts]
    matrix = _incidence(sets)
    sizes = np.asarray(matrix.sum(axis=1)).ravel()
    g = np.asarray(groups)
    result = NearDuplicates(threshold)
    exact, near = np.zeros(len(texts), bool), np.zeros(len(texts), bool)
    for start in range(0, len(texts), BLOCK):
        stop = min(start + BLOCK, len(texts))
        inter = (matrix[start:stop] @ matrix.T).toarray()
        union = sizes[start:stop, None] + sizes[None, :] - inter
        jaccard = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
        other = g[start:stop, None] != g[None, :]
        hits = (jaccard >= threshold) & other
        for a, b in zip(*np.nonzero(hits), strict=True):
            i, j = start + int(a), int(b)
            near[i] = True
            exact[i] |= keys[i] == keys[j]
            if i < j:
                result.pairs.append(NearPair(i, j, round(float(jaccard[a, b]), 3)))
    result.exact_rows, result.near_rows = int(exact.sum()), int(near.sum())
    result.pairs.sort(key=lambda p: -p.similarity)
    return result


def _incidence(sets: Sequence[set[str]]) -> sp.csr_matrix:
    vocab: dict[str, int] = {}
    rows, cols = [], []
    for i, s in enumerate(sets):
        for gram in s:
            rows.append(i)
            cols.append(vocab.setdefault(gram, len(vocab)))
    data = np.ones(len(rows), dtype=np.float32)
    return sp.csr_matrix((data, (rows, cols)), shape=(len(sets), max(len(vocab), 1)))
