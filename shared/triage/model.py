"""The triage model: train on labelled texts, suggest the top three labels with probabilities,
save and load as a versioned file.

Model files are **operator-produced artifacts**: ``save`` writes a joblib file (a pickle)
and a JSON sidecar; ``load`` unpickles, which runs code, so load only files that your own
``shaobao triage train`` wrote into your own model directory, never one received from
elsewhere. The sidecar's SHA-256 is checked before unpickling (it catches a truncated or
swapped file, not a malicious operator).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from shared.triage import metrics
from shared.triage.errors import TriageDataError
from shared.triage.features import Featurizer
from shared.triage.linear import Fitted, Floats, LinearScores, fit, softmax

FORMAT = 1
TOP = 3


@dataclass(frozen=True)
class Suggestion:
    """The model's best labels for one text, most likely first, and the model's version."""

    top: list[tuple[str, float]]
    version: str

    @property
    def label(self) -> str:
        return self.top[0][0]

    @property
    def probability(self) -> float:
        return self.top[0][1]


@dataclass
class Model:
    featurizer: Featurizer
    linear: LinearScores
    temperature: float
    version: str
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def classes(self) -> list[str]:
        return self.linear.classes

    @classmethod
    def train(cls, texts: Sequence[str], labels: Sequence[str], *, seed: int = 42) -> Model:
        """Fit on labelled texts; raises ``TriageDataError`` for fewer than two classes."""
        _check_training_data(texts, labels)
        featurizer, x = Featurizer.fit(texts)
        fitted = fit(x, labels, seed=seed)
        linear, temperature = fitted.linear, fitted.temperature
        now = datetime.now(UTC)
        info = {
            "format": FORMAT,
            "classes": linear.classes,
            "training_rows": len(texts),
            "trained_at": now.isoformat(timespec="seconds"),
            "seed": seed,
            "temperature": temperature,
            "features": int(x.shape[1]),
            "method": "char 1-4 + jieba word 1-2 tf-idf, linear SVM, softmax temperature",
            "out_of_fold": _held_out_scores(fitted),
        }
        version = f"triage-{now:%Y%m%dT%H%M%SZ}-{_fingerprint(texts, labels, seed)}"
        return cls(featurizer, linear, temperature, version, info | {"version": version})

    def probabilities(self, texts: Sequence[str]) -> Floats:
        """Rows of probabilities, columns in ``classes`` order."""
        return softmax(self.linear.scores(self.featurizer.transform(texts)), self.temperature)

    def suggest(self, text: str) -> Suggestion:
        indices, values = self.featurizer.one(text)
        p = softmax(self.linear.scores_one(indices, values), self.temperature)[0]
        best = np.argsort(-p)[:TOP]
        return Suggestion([(self.classes[j], float(p[j])) for j in best], self.version)

    def suggest_many(self, texts: Sequence[str]) -> list[Suggestion]:
        """``suggest`` for several texts at once (intake's batches): the numpy work is
        done once for all of them."""
        if not texts:
            return []
        x = self.featurizer.many(texts)
        p = softmax(self.linear.scores(x), self.temperature)
        order = np.argsort(-p, axis=1)[:, :TOP]
        return [
            Suggestion([(self.classes[j], float(row[j])) for j in idx], self.version)
            for row, idx in zip(p, order, strict=True)
        ]

    def save(self, directory: Path, *, metrics: dict[str, Any] | None = None) -> Path:
        """Write ``<directory>/<version>.joblib`` and its ``.json`` sidecar; returns the
        joblib path."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.version}.joblib"
        # A running service takes the newest *.joblib as soon as it appears: the model is
        # written under another name and its sidecar first, then renamed into place whole.
        part = path.with_name(path.name + ".part")
        joblib.dump(self, part, compress=3)
        sidecar = self.info | {"sha256": _sha256(part), "metrics": metrics or {}}
        meta = sidecar_path(path)
        meta_part = meta.with_name(meta.name + ".part")
        meta_part.write_text(json.dumps(sidecar, ensure_ascii=False, indent=2), encoding="utf-8")
        meta_part.replace(meta)
        part.replace(path)
        return path

    @staticmethod
    def load(path: Path) -> Model:
        """Load a model this installation trained (see the module's note on trust)."""
        try:
            meta = json.loads(sidecar_path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise TriageDataError(
                f"模型说明文件缺失或损坏 (sidecar unreadable: {exc}): {path}"
            ) from exc
        if meta.get("format") != FORMAT:
            raise TriageDataError(f"模型文件格式不支持 (unsupported model format): {path}")
        if meta.get("sha256") != _sha256(path):
            raise TriageDataError(f"模型文件与说明文件不符 (checksum mismatch): {path}")
        model = joblib.load(path)
        if not isinstance(model, Model):
            raise TriageDataError(f"不是分诊模型 (not a triage model): {path}")
        return model


def sidecar_path(path: Path) -> Path:
    return path.with_suffix(".json")


def latest(directory: Path) -> Path | None:
    """The newest model file in a directory (versions sort by their UTC timestamp)."""
    found = sorted(directory.glob("triage-*.joblib"))
    return found[-1] if found else None


def _held_out_scores(fitted: Fitted) -> dict[str, Any]:
    """Scores on the calibration folds' held-out rows, and the lowest top probability at
    which those were ≥ 95 % right (a starting threshold; a little optimistic, as the
    vocabulary saw every row; ``shaobao triage evaluate`` is the honest measure)."""
    if fitted.held_out is None or fitted.truth is None:
        return {}
    p, truth = fitted.held_out, fitted.truth.tolist()
    ranked = np.argsort(-p, axis=1)[:, :TOP].tolist()
    correct = [r[0] == t for r, t in zip(ranked, truth, strict=True)]
    point = metrics.threshold_for_precision(p.max(axis=1).tolist(), correct, 0.95)
    return {
        "rows": len(truth),
        "accuracy": round(sum(correct) / len(truth), 4),
        "top3_accuracy": round(
            sum(t in r for r, t in zip(ranked, truth, strict=True)) / len(truth), 4
        ),
        "threshold_95": None if point is None else round(point.threshold, 4),
        "coverage_95": None if point is None else round(point.coverage, 4),
    }


def _check_training_data(texts: Sequence[str], labels: Sequence[str]) -> None:
    if len(texts) != len(labels):
        raise TriageDataError("文本与类别数量不一致 (texts and labels differ in length)")
    if len(set(labels)) < 2:
        raise TriageDataError(
            f"至少需要两个类别 (need at least two classes; got {len(set(labels))})"
        )


def _fingerprint(texts: Sequence[str], labels: Sequence[str], seed: int) -> str:
    h = hashlib.sha256(f"{FORMAT}:{seed}".encode())
    for t, y in zip(texts, labels, strict=True):
        h.update(f"{y}\t{t}\n".encode())
    return h.hexdigest()[:8]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
