"""The evaluation as a person reads it (Chinese first) and as JSON for tools."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from shared.triage.evaluate import TARGET_PRECISION, Evaluation

SHOWN = 10


def as_dict(e: Evaluation) -> dict[str, Any]:
    data = asdict(e)
    data["near_duplicates"] = {
        "threshold": e.near.threshold,
        "exact_rows": e.near.exact_rows,
        "near_rows": e.near.near_rows,
        "pairs": e.near.pairs,
        "examples": [{"first": a, "second": b, "similarity": j} for a, b, j in e.examples],
    }
    del data["near"], data["examples"]
    data["target_precision"] = TARGET_PRECISION
    return data


def as_text(e: Evaluation) -> str:
    lines = [
        f"数据 (data): {e.rows} 行, {e.classes} 类; {e.folds} 折分层交叉验证, seed {e.seed}; 测试 {e.tested_rows} 行; 用时 {e.seconds:.1f}s",
        f"准确率 (accuracy):      {e.accuracy:.3f}   (各折 {', '.join(f'{a:.3f}' for a in e.fold_accuracy)})",
        f"宏平均 F1 (macro-F1):   {e.macro_f1:.3f}",
        f"前三命中率 (top-3):     {e.top3_accuracy:.3f}",
    ]
    if e.training_only:
        shown = list(e.training_only.items())
        rare = ", ".join(f"{c} ({n})" for c, n in shown[:SHOWN])
        more = (
            f" … 共 {len(shown)} 类 ({sum(e.training_only.values())} 行)"
            if len(shown) > SHOWN
            else ""
        )
        lines.append(f"行数少于折数、只用于训练的类别 (training only, not tested): {rare}{more}")
    lines += ["", "自动派单阈值表 (abstention: top probability ≥ t routes by itself)"]
    lines.append("  阈值 t   自动派单占比 (coverage)   其中正确率 (precision)   件数")
    for r in e.abstention:
        precision = "-" if r.precision is None else f"{r.precision:.3f}"
        lines.append(
            f"  {r.threshold:<7.2f} {r.coverage:>10.3f}               {precision:>8}            {r.routed}"
        )
    op = e.operating_point
    target = f"{TARGET_PRECISION:.0%}"
    if op is None:
        lines.append(f"正确率达 {target} 的阈值 (threshold for {target} precision): 无 (none)")
    else:
        lines.append(
            f"正确率达 {target} 的阈值 (threshold for {target} precision): p ≥ {op.threshold:.3f}, "
            f"自动派单 {op.coverage:.1%}, 正确率 {op.precision:.3f}"
        )
    lines += ["", "最弱的类别 (weakest classes: F1, test rows)"]
    lines += [f"  {c}: {f1:.3f} ({n})" for c, f1, n in e.hardest]
    lines += _near_lines(e)
    return "\n".join(lines)


def _near_lines(e: Evaluation) -> list[str]:
    n = e.near
    lines = [
        "",
        f"跨折近似重复 (near-duplicates across folds, char-3 Jaccard ≥ {n.threshold}): "
        f"{n.near_rows} 行 ({n.near_rows / e.rows:.1%}) 在其他折有近似重复, 其中 {n.exact_rows} 行规范化后完全相同; {n.pairs} 对",
    ]
    lines += [f"  {j:.2f} 「{a[:60]}」 ≈ 「{b[:60]}」" for a, b, j in e.examples]
    return lines
