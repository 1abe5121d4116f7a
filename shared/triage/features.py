"""The features: character 1–4-grams and jieba word 1–2-grams, TF-IDF with sublinear tf,
each view l2-normalised and the two side by side (a union; words at half weight).

Why both: characters catch what a segmenter cuts wrongly (place names, slang, typos, 楼道充电
vs 楼道里充电), words carry the longer units a 4-gram window splits. Digit runs are ``0``
before either view sees the text (see ``text.normalise``).
"""

from __future__ import annotations

from collections.abc import Sequence
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
Floats64 = NDArray[np.float64]
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
    def _fast(self) -> _Lookup:
        """What one text's features need, built once from the fitted vectorizers."""
        return _Lookup.of(self.chars, self.words)

    def __getstate__(self) -> dict[str, Any]:
        return {"chars": self.chars, "words": self.words}  # not the cached lookup

    def one(self, text: str) -> tuple[NDArray[np.intp], NDArray[np.float32]]:
        """One text's non-zero features (indices, values), the same numbers ``transform``
        gives, without its per-call overhead (a suggestion must cost well under a
        millisecond: intake runs one per free-text submission)."""
        return self._fast.one(normalise(text))

    def many(self, texts: Sequence[str]) -> sp.csr_matrix:
        """``transform``'s matrix by the fast path: intake's batches of submissions."""
        index, values, pointers = self._fast.batch([normalise(t) for t in texts])
        shape = (len(texts), self._fast.width)
        return sp.csr_matrix((values.astype(np.float32), index, pointers), shape=shape)

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        normalised = [normalise(t) for t in texts]
        return sp.hstack(
            [self.chars.transform(normalised), WORD_WEIGHT * self.words.transform(normalised)],
            format="csr",
        )


def _float32() -> type:
    return np.float32


@dataclass(frozen=True)
class _Lookup:
    """The two views' vocabularies, their idf as one float64 vector (the word view's
    columns after the character view's) and their n-gram ranges.

    N-grams are counted with plain dict lookups (the text is already normalised, so
    scikit-learn's analyser, which builds every n-gram as a list first, is not needed);
    the tf-idf arithmetic of a whole batch of texts is a few numpy calls, each view of
    each text l2-normalised by its own segment's sum of squares."""

    chars: dict[str, int]
    words: dict[str, int]
    idf: NDArray[np.float64]
    width: int
    char_range: tuple[int, int]
    word_range: tuple[int, int]

    @classmethod
    def of(cls, chars: TfidfVectorizer, word_view: TfidfVectorizer) -> _Lookup:
        split = len(chars.vocabulary_)
        words_vocabulary = {g: j + split for g, j in word_view.vocabulary_.items()}
        idf = np.concatenate([chars.idf_, word_view.idf_]).astype(np.float64)
        return cls(
            chars=dict(chars.vocabulary_),
            words=words_vocabulary,
            idf=idf,
            width=len(idf),
            char_range=chars.ngram_range,
            word_range=word_view.ngram_range,
        )

    def counts(self, text: str) -> tuple[dict[int, int], dict[int, int]]:
        """The known character n-grams and word n-grams of a normalised text, counted."""
        found: dict[int, int] = {}
        get = self.chars.get
        low, high = self.char_range
        size = len(text)
        for n in range(low, min(high, size) + 1):
            for i in range(size - n + 1):
                j = get(text[i : i + n])
                if j is not None:
                    found[j] = found.get(j, 0) + 1
        in_words: dict[int, int] = {}
        get = self.words.get
        tokens = words(text)
        low, high = self.word_range
        for n in range(low, min(high, len(tokens)) + 1):
            for i in range(len(tokens) - n + 1):
                j = get(tokens[i] if n == 1 else " ".join(tokens[i : i + n]))
                if j is not None:
                    in_words[j] = in_words.get(j, 0) + 1
        return found, in_words

    def one(self, text: str) -> tuple[NDArray[np.intp], NDArray[np.float32]]:
        """One normalised text's (indices, values): ``batch`` without its segment
        bookkeeping, which costs more than it saves for a single text."""
        parts: list[tuple[NDArray[np.intp], Floats64]] = []
        for view, weight in zip(self.counts(text), (1.0, WORD_WEIGHT), strict=True):
            if not view:
                continue
            index = np.fromiter(view.keys(), np.intp, len(view))
            values = 1.0 + np.log(np.fromiter(view.values(), np.float64, len(view)))
            values *= self.idf[index]
            values *= weight / np.sqrt(np.dot(values, values))
            parts.append((index, values))
        if not parts:
            return np.empty(0, np.intp), np.empty(0, np.float32)
        if len(parts) == 1:
            return parts[0][0], parts[0][1].astype(np.float32)
        return (
            np.concatenate([parts[0][0], parts[1][0]]),
            np.concatenate([parts[0][1], parts[1][1]]).astype(np.float32),
        )

    def batch(self, texts: Sequence[str]) -> tuple[NDArray[np.intp], Floats64, NDArray[np.intp]]:
        """Normalised texts as CSR parts (indices, values, row pointers)."""
        indices: list[int] = []
        counts: list[int] = []
        segments: list[int] = []  # each text's two segments' lengths, chars then words
        for text in texts:
            for view in self.counts(text):
                indices.extend(view.keys())
                counts.extend(view.values())
                segments.append(len(view))
        index = np.array(indices, dtype=np.intp)
        values = (1.0 + np.log(np.array(counts, dtype=np.float64))) * self.idf[index]
        lengths = np.array(segments, dtype=np.intp)
        segment = np.repeat(np.arange(len(lengths)), lengths)
        norms = np.sqrt(np.bincount(segment, weights=values * values, minlength=len(lengths)))
        scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
        scale[1::2] *= WORD_WEIGHT
        values *= scale[segment]
        pointers = np.zeros(len(texts) + 1, dtype=np.intp)
        np.cumsum(lengths.reshape(-1, 2).sum(axis=1), out=pointers[1:])
        return index, values, pointers
