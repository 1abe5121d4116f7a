"""The features: character 1–4-grams and jieba word 1–2-grams, TF-IDF with sublinear tf,
each view l2-normalised and the two side by side (a union; words at half weight).

Why both: characters catch what a segmenter cuts wrongly (place names, slang, typos, 楼道充电
vs 楼道里充电), words carry the longer units a 4-gram window splits. Digit runs are ``0``
before either view sees the text (see ``text.normalise``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.feature_extraction.text import TfidfVectorizer

from shared.triage.text import normalise, words

# Rows at which an n-gram must occur in two training texts to be kept: below, every n-gram
# counts (a few hundred rows have few repeats); above, once-only n-grams are mostly noise
# and would make the weight matrix (classes × features) large.
MIN_DF_FROM_ROWS = 1500
Analyzer = Callable[[str], list[str]]
MAX_CHAR_FEATURES = 200_000
MAX_WORD_FEATURES = 100_000
# The word view at half the weight of the characters: on our two test sets (Chinese
# synthetic, English 311) characters alone were 0.3-0.7 points better than equal weights
# and half weight costs at most 0.2; real work orders are longer and less regular than
# either, where words usually add a little. A hedge, not a tuned value.
WORD_WEIGHT = 0.5


def _identity(text: str) -> str:
    return text


@dataclass
class Featurizer:
    """Fitted vectorizers of the two views."""

    chars: TfidfVectorizer
    words: TfidfVectorizer

    @classmethod
    def fit(cls, texts: Sequence[str]) -> tuple[Featurizer, sp.csr_matrix]:
        normalised = [normalise(t) for t in texts]
        min_df = 2 if len(texts) >= MIN_DF_FROM_ROWS else 1
        chars = TfidfVectorizer(
            analyzer="char",
            ngram_range=(1, 4),
            sublinear_tf=True,
            min_df=min_df,
            max_features=MAX_CHAR_FEATURES,
            lowercase=False,
            dtype=_float32(),
        )
        word_view = TfidfVectorizer(
            tokenizer=words,
            preprocessor=_identity,
            token_pattern=None,
            ngram_range=(1, 2),
            sublinear_tf=True,
            min_df=min_df,
            max_features=MAX_WORD_FEATURES,
            lowercase=False,
            dtype=_float32(),
        )
        x = sp.hstack(
            [chars.fit_transform(normalised), WORD_WEIGHT * word_view.fit_transform(normalised)],
            format="csr",
        )
        return cls(chars=chars, words=word_view), x

    @cached_property
    def _analyzers(self) -> tuple[Analyzer, Analyzer]:
        """The vectorizers' own analyzers (the functions ``transform`` calls), built once."""
        return self.chars.build_analyzer(), self.words.build_analyzer()

    def __getstate__(self) -> dict[str, Any]:
        return {"chars": self.chars, "words": self.words}  # not the cached analyzers

    def one(self, text: str) -> tuple[NDArray[np.intp], NDArray[np.float32]]:
        """One text's non-zero features (indices, values), the same numbers ``transform``
        gives, without its per-call overhead (a suggestion must cost under a millisecond)."""
        normalised = normalise(text)
        char_analyzer, word_analyzer = self._analyzers
        chars = _tfidf(self.chars, char_analyzer, normalised, offset=0)
        offset = len(self.chars.vocabulary_)
        word_view = _tfidf(self.words, word_analyzer, normalised, offset=offset)
        values = np.concatenate([chars[1], WORD_WEIGHT * word_view[1]]).astype(np.float32)
        return np.concatenate([chars[0], word_view[0]]), values

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        normalised = [normalise(t) for t in texts]
        return sp.hstack(
            [self.chars.transform(normalised), WORD_WEIGHT * self.words.transform(normalised)],
            format="csr",
        )


def _float32() -> type:
    return np.float32


def _tfidf(
    vectorizer: TfidfVectorizer, analyzer: Analyzer, text: str, *, offset: int
) -> tuple[NDArray[np.intp], NDArray[np.float32]]:
    """sublinear tf × idf, l2-normalised: TfidfVectorizer's arithmetic for one text."""
    vocabulary: dict[str, int] = vectorizer.vocabulary_
    counts = Counter(analyzer(text))
    known = [(vocabulary[g], n) for g, n in counts.items() if g in vocabulary]
    if not known:
        return np.empty(0, np.intp), np.empty(0, np.float32)
    indices = np.fromiter((j for j, _ in known), np.intp, len(known))
    tf = 1.0 + np.log(np.fromiter((n for _, n in known), np.float64, len(known)))
    values = tf * vectorizer.idf_[indices]
    values /= np.sqrt(np.dot(values, values))
    return indices + offset, values.astype(np.float32)
