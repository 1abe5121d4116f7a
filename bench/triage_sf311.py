"""Triage benchmark on real, messy 311 data (English; ../shared/data/sf311_sample_10k.csv):
cross-validated scores of the method, training time on all 10,000 rows, cost of one
suggestion. A sanity check beside the Chinese synthetic sample, not a tuning target.

    uv run python -m bench.triage_sf311 [--task agency|category|synthetic] [--folds 5]

Tasks: ``agency`` = Request.Type + Request.Details → Responsible.Agency (149 queues, many
tiny); ``category`` = Request.Details + Status.Notes → Category (28). Rows are read at run
time; none are copied into the repository. ``synthetic`` = 10,000 distinct Chinese texts
from scripts/gen_triage_sample.py's vocabulary labelled category@place (200 classes): the
training-time check on unique texts (the 311 texts repeat a lot, which training collapses).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

from shared.triage.evaluate import evaluate
from shared.triage.model import Model
from shared.triage.report import as_text

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "sf311_sample_10k.csv"
TASKS = {
    "agency": (("Request.Type", "Request.Details"), "Responsible.Agency"),
    "category": (("Request.Details", "Status.Notes"), "Category"),
}


def synthetic(rows: int = 10_000) -> tuple[list[str], list[str]]:
    import random

    from scripts.gen_triage_sample import MATTERS, PLACES, complaint

    rng = random.Random(1)
    texts, labels = [], []
    while len(texts) < rows:
        category, place = rng.choice(list(MATTERS)), rng.choice(PLACES)
        texts.append(place + complaint(rng, rng.choice(MATTERS[category])))
        labels.append(f"{category}@{place}")
    return texts, labels


def load(task: str) -> tuple[list[str], list[str]]:
    if task == "synthetic":
        return synthetic()
    columns, label = TASKS[task]
    with DATA.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    texts = [" ".join(r[c] for c in columns).replace("_", " ") for r in rows]
    return texts, [r[label] for r in rows]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--task", choices=[*sorted(TASKS), "synthetic"], default="agency")
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    texts, labels = load(args.task)
    started = time.monotonic()
    model = Model.train(texts, labels, seed=42)
    print(
        f"train on {len(texts)} rows, {len(model.classes)} classes: {time.monotonic() - started:.1f}s"
    )
    model.suggest(texts[0])
    started = time.perf_counter()
    for text in texts[:2000]:
        model.suggest(text)
    print(f"suggest: {(time.perf_counter() - started) / 2000 * 1000:.3f} ms per call")
    report = evaluate(
        texts, labels, folds=args.folds, seed=42, progress=lambda m: print(m, file=sys.stderr)
    )
    print(as_text(report))


if __name__ == "__main__":
    main()
