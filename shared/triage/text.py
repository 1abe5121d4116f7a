"""Text normalisation and the two views of a complaint the model reads (no sklearn here).

``normalise`` folds full-width forms (NFKC), case and whitespace, and turns every run of
digits into ``0``: house numbers, dates and phone fragments say where and when, not what
the matter is. ``words`` cuts Chinese with jieba (its dictionary ships inside the package,
nothing is downloaded); ``shingles`` are the character 3-grams that near-duplicate
detection compares.
"""

from __future__ import annotations

import logging
import re
import unicodedata
import warnings
from functools import cache
from typing import Any

_DIGITS = re.compile(r"\d+")
_SPACE = re.compile(r"\s+")
_PUNCT = re.compile(r"[\W_]+", re.UNICODE)


def normalise(text: str) -> str:
    """NFKC, lower case, digit runs as ``0``, whitespace collapsed."""
    folded = unicodedata.normalize("NFKC", text).lower()
    return _SPACE.sub(" ", _DIGITS.sub("0", folded)).strip()


@cache
def _jieba() -> Any:
    with warnings.catch_warnings():  # jieba 0.42's regexes warn on import under Python 3.12+
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", SyntaxWarning)
        import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def words(text: str) -> list[str]:
    """jieba's words of an already normalised text, punctuation and spaces dropped."""
    return [w for w in _jieba().lcut(text) if not _PUNCT.fullmatch(w)]


def shingles(text: str, size: int = 3) -> set[str]:
    """Character ``size``-grams of the text without punctuation or spaces (the whole text if
    shorter), for Jaccard similarity."""
    b = bare(text)
    if len(b) <= size:
        return {b} if b else set()
    return {b[i : i + size] for i in range(len(b) - size + 1)}


def bare(text: str) -> str:
    """The normalised text without punctuation or spaces: equal for exact duplicates."""
    return _PUNCT.sub("", normalise(text))
