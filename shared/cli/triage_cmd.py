"""``shaobao triage``: train the category model on labelled history; evaluate the method.

scikit-learn is imported inside the commands, so ``shaobao`` itself starts fast.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

app = typer.Typer(help="分诊模型 (triage model: category suggestions)", no_args_is_help=True)

TEXT_HELP = "文本列 (text column; default: text/content/诉求内容/内容 ...)"
LABEL_HELP = (
    "类别列 (label column: a category code or an owner id; default: label/category/类别 ...)"
)


def _say(message: str) -> None:
    typer.echo(message, err=True)


@app.command("train")
def train(
    source: Path = typer.Option(..., "--from", help="CSV or XLSX of labelled history"),
    text_column: str | None = typer.Option(None, help=TEXT_HELP),
    label_column: str | None = typer.Option(None, help=LABEL_HELP),
    out: Path = typer.Option(Path("models"), help="directory for the model file"),
    seed: int = 42,
) -> None:
    """Train on the whole file and write models/<version>.joblib with a JSON sidecar."""
    from shared.triage.errors import TriageDataError
    from shared.triage.model import Model
    from shared.triage.tables import load_labelled

    try:
        data = load_labelled(source, text_column, label_column)
        _say(
            f"读取 {len(data.texts)} 行 (rows; skipped {data.skipped} empty), 列 {data.text_column!r} → {data.label_column!r}; 训练中 (training)…"
        )
        started = time.monotonic()
        model = Model.train(data.texts, data.labels, seed=seed)
        path = model.save(out)
    except TriageDataError as exc:
        _say(str(exc))
        raise typer.Exit(2) from exc
    typer.echo(
        f"模型已保存 (saved): {path}  版本 {model.version}, {len(model.classes)} 类, "
        f"{time.monotonic() - started:.1f}s"
    )
    held = model.info.get("out_of_fold") or {}
    if held.get("threshold_95") is not None:
        typer.echo(
            f"留出估计 (held-out, a little optimistic): 准确率 {held['accuracy']:.3f}, 前三 "
            f"{held['top3_accuracy']:.3f}; 正确率 95% 的阈值 p ≥ {held['threshold_95']:.3f}, "
            f"自动派单 {held['coverage_95']:.1%}"
        )


@app.command("evaluate")
def evaluate(
    data: Path = typer.Option(..., help="CSV or XLSX of labelled texts"),
    folds: int = typer.Option(5, min=2, help="stratified folds"),
    seed: int = 42,
    text_column: str | None = typer.Option(None, help=TEXT_HELP),
    label_column: str | None = typer.Option(None, help=LABEL_HELP),
    as_json: bool = typer.Option(False, "--json", help="print the report as JSON"),
) -> None:
    """Cross-validate the method on a labelled file: accuracy, macro-F1, top-3, abstention table, near-duplicates.

    Stratified folds with a fixed seed; classes with fewer rows than folds are kept in
    training only. Progress goes to stderr, the report to stdout.
    """
    from shared.triage.errors import TriageDataError
    from shared.triage.evaluate import evaluate as run
    from shared.triage.report import as_dict, as_text
    from shared.triage.tables import load_labelled

    try:
        labelled = load_labelled(data, text_column, label_column)
        _say(
            f"读取 {len(labelled.texts)} 行 (rows; skipped {labelled.skipped} empty), 列 {labelled.text_column!r} → {labelled.label_column!r}"
        )
        result = run(labelled.texts, labelled.labels, folds=folds, seed=seed, progress=_say)
    except TriageDataError as exc:
        _say(str(exc))
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(json.dumps(as_dict(result), ensure_ascii=False, indent=2))
    else:
        typer.echo(as_text(result))
