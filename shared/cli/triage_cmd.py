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
    source: Path | None = typer.Option(None, "--from", help="CSV or XLSX of labelled history"),
    from_cases: bool = typer.Option(
        False, "--from-cases", help="the system's own closed cases and human choices"
    ),
    since: str = typer.Option("365d", help="with --from-cases: how far back (365d, 26w)"),
    limit: int = typer.Option(200_000, min=100, help="with --from-cases: at most this many rows"),
    text_column: str | None = typer.Option(None, help=TEXT_HELP),
    label_column: str | None = typer.Option(None, help=LABEL_HELP),
    out: Path | None = typer.Option(
        None, help="directory for the model file (default: the installation's models folder)"
    ),
    seed: int = 42,
) -> None:
    """Train and write <out>/<version>.joblib with a JSON sidecar; a running intake takes
    the newest file within seconds, without a restart.

    Either --from FILE (a text column and a label column: category codes for a model
    intake can route by) or --from-cases (closed cases and every human choice of a
    matter within --since; needs the database: eval "$(bash deploy/stack.sh env)").
    """
    from shared.settings import ConfigFiles
    from shared.triage.errors import TriageDataError
    from shared.triage.model import Model

    if (source is None) == (not from_cases):
        _say("请给出 --from FILE 或 --from-cases 之一 (exactly one of --from, --from-cases)")
        raise typer.Exit(2)
    try:
        texts, labels = (
            _from_cases(since, limit)
            if from_cases
            else _from_file(source, text_column, label_column)
        )
        _say("训练中 (training)…")
        started = time.monotonic()
        model = Model.train(texts, labels, seed=seed)
        path = model.save(out or ConfigFiles().triage_models)
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


def _from_file(
    source: Path | None, text_column: str | None, label_column: str | None
) -> tuple[list[str], list[str]]:
    from shared.triage.tables import load_labelled

    assert source is not None
    data = load_labelled(source, text_column, label_column)
    _say(
        f"读取 {len(data.texts)} 行 (rows; skipped {data.skipped} empty), "
        f"列 {data.text_column!r} → {data.label_column!r}"
    )
    return list(data.texts), list(data.labels)


def _from_cases(since: str, limit: int) -> tuple[list[str], list[str]]:
    import asyncio

    from shared.cli.since import parse_since
    from shared.cli.triage_cases import read_examples
    from shared.domain.rules import RuleSet
    from shared.settings import Settings

    try:
        span = parse_since(since)
    except ValueError as exc:
        _say(f"--since 有误 (invalid): {exc}")
        raise typer.Exit(2) from exc
    settings = Settings()
    categories = RuleSet.load(settings.rules_file).categories
    found = asyncio.run(read_examples(settings, categories, since=span, limit=limit))
    _say(
        f"读取 {len(found.texts)} 条 (examples): 人工判定 {found.human}, 已结案 {found.closed}; "
        f"跳过 {found.skipped} 条不在分类表中的"
    )
    return found.texts, found.labels


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
