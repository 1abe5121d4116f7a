"""Labelled files: CSV (UTF-8, or GB18030 as Chinese Excel exports it) or XLSX, a text
column and a label column found by name (given, or a common name such as 诉求内容 / 类别),
or, when no column has a common name, by content: the text is the column of the longest
values, the label the other column with the fewest distinct values (at least two)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from shared.triage.errors import TriageDataError

TEXT_NAMES = (
    "text",
    "content",
    "诉求内容",
    "内容",
    "工单内容",
    "问题描述",
    "description",
    "描述",
    "sentence",
    "query",
    "诉求",
    "来电内容",
    "反映内容",
    "事项内容",
    "正文",
    "文本",
)
LABEL_NAMES = (
    "label", "category", "类别", "分类", "诉求类别", "类型", "owner", "承办单位",
    "class", "target", "标签", "事项类别", "诉求分类", "承办部门", "责任单位", "部门",
)  # fmt: skip
_SAMPLE = 2000  # rows looked at to tell the columns apart by content
CSV_ENCODINGS = ("utf-8-sig", "gb18030")


@dataclass(frozen=True)
class Labelled:
    texts: list[str]
    labels: list[str]
    text_column: str
    label_column: str
    skipped: int  # rows with an empty text or label


def read_table(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the first sheet (XLSX) or of a CSV file, cells as strings."""
    if not path.is_file():
        raise TriageDataError(f"文件不存在 (no such file): {path}")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        rows = _xlsx_rows(path)
    elif suffix in (".csv", ".txt", ".tsv"):
        rows = _csv_rows(path)
    else:
        raise TriageDataError(
            f"只支持 CSV 或 XLSX 文件 (only CSV or XLSX; got {suffix or path.name})"
        )
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise TriageDataError(f"文件是空的 (empty file): {path}")
    header = [h.strip() for h in rows[0]]
    return header, rows[1:]


def _csv_rows(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    for encoding in CSV_ENCODINGS:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        dialect = "excel-tab" if path.suffix.lower() == ".tsv" else "excel"
        return list(csv.reader(io.StringIO(text, newline=""), dialect=dialect))
    raise TriageDataError(
        f"无法识别文件编码，请另存为 UTF-8 (cannot decode as {' or '.join(CSV_ENCODINGS)}): {path}"
    )


def _xlsx_rows(path: Path) -> list[list[str]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several kinds for a broken file
        raise TriageDataError(f"无法读取 XLSX 文件 (unreadable XLSX: {exc}): {path}") from exc
    try:
        sheet = book.worksheets[0]
        return [
            ["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)
        ]
    finally:
        book.close()


def find_column(
    header: Sequence[str], given: str | None, candidates: Sequence[str], what: str
) -> str:
    """The column named ``given``, else the first common name present (case-insensitive)."""
    lowered = {h.lower(): h for h in header}
    if given is not None:
        if given in header:
            return given
        if given.lower() in lowered:
            return lowered[given.lower()]
        raise TriageDataError(f"找不到{what}列 (no column {given!r}; columns: {', '.join(header)})")
    for name in candidates:
        if name.lower() in lowered:
            return lowered[name.lower()]
    raise TriageDataError(
        f"找不到{what}列，请用 --{_option(what)}-column 指定 (none of {', '.join(candidates)}; "
        f"columns: {', '.join(header)})"
    )


def _by_content(
    header: Sequence[str], rows: Sequence[Sequence[str]], want: str, *, exclude: str | None
) -> str:
    """A column told by its values: ``text`` the longest on average, ``label`` the fewest
    distinct values (at least two, fewer than the rows). TriageDataError if none fits."""
    sample = rows[:_SAMPLE]
    stats = []
    for i, name in enumerate(header):
        if name == exclude:
            continue
        values = [r[i].strip() for r in sample if i < len(r) and r[i].strip()]
        if values:
            stats.append((name, sum(map(len, values)) / len(values), len(set(values)), len(values)))
    if want == "text" and stats:
        return max(stats, key=lambda s: s[1])[0]
    labels = [s for s in stats if 2 <= s[2] < s[3]]
    if labels:
        return min(labels, key=lambda s: (s[2], s[1]))[0]
    raise TriageDataError(
        f"找不到{'文本' if want == 'text' else '类别'}列，请用 --{want}-column 指定 "
        f"(columns: {', '.join(header)})"
    )


def _option(what: str) -> str:
    return "text" if what == "文本" else "label"


def load_labelled(
    path: Path, text_column: str | None = None, label_column: str | None = None
) -> Labelled:
    header, rows = read_table(path)
    try:
        text_col = find_column(header, text_column, TEXT_NAMES, "文本")
    except TriageDataError:
        if text_column is not None:
            raise
        text_col = _by_content(header, rows, "text", exclude=label_column)
    try:
        label_col = find_column(header, label_column, LABEL_NAMES, "类别")
    except TriageDataError:
        if label_column is not None:
            raise
        label_col = _by_content(header, rows, "label", exclude=text_col)
    ti, li = header.index(text_col), header.index(label_col)
    texts, labels, skipped = [], [], 0
    for row in rows:
        text = row[ti].strip() if ti < len(row) else ""
        label = row[li].strip() if li < len(row) else ""
        if text and label:
            texts.append(text)
            labels.append(label)
        else:
            skipped += 1
    if not texts:
        raise TriageDataError(f"没有可用的数据行 (no row with both text and label): {path}")
    return Labelled(texts, labels, text_col, label_col, skipped)
