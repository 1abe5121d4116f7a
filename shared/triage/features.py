"""The features: character 1–4-grams and jieba word 1–2-grams, TF-IDF with sublinear tf,
each view l2-normalised and the two side by side (a union, equal weight).

Why both: characters catch what a segmenter cuts wrongly (place names, slang, typos, 楼道充电
vs 楼道里充电), words carry the longer units a 4-gram window splits. Digit runs are ``0``
before either view sees the text (see ``text.normalise``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from shared.triage.text import normalise, words

# Rows at which an n-gram must occur in two training texts to be kept: below, every n-gram
# counts (a few hundred rows have few repeats); above, once-only n-grams are mostly noise
# and would make the weight matrix (classes × features) large.
MIN_DF_FROM_ROWS = 1500
MAX_CHAR_FEATURES = 200_000
MAX_WORD_FEATURES = 100_000


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
            [chars.fit_transform(normalised), word_view.fit_transform(normalised)], format="csr"
        )
        return cls(chars=chars, words=word_view), x

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        normalised = [normalise(t) for t in texts]
        return sp.hstack(
            [self.chars.transform(normalised), self.words.transform(normalised)], format="csr"
        )


def _float32() -> type:
    import numpy as np

    return np.float32
