"""The triage package's pure parts: metrics, the abstention table, near-duplicates, column
detection and reading labelled files (XLSX, GB18030 CSV)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.triage import metrics
from shared.triage.errors import TriageDataError
from shared.triage.neardup import near_duplicates
from shared.triage.tables import find_column, load_labelled, read_table
from shared.triage.text import normalise, shingles

TEXT_NAMES = ("text", "诉求内容")


def test_accuracy_top3_and_macro_f1_count_what_they_say() -> None:
    truth = ["a", "a", "b", "c"]
    predicted = ["a", "b", "b", "b"]
    assert metrics.accuracy(truth, predicted) == 0.5
    # F1: a = 2/3, b = 2·1/(2+2) = 0.5, c = 0
    assert metrics.macro_f1(truth, predicted) == pytest.approx((2 / 3 + 0.5 + 0) / 3)
    ranked = [["a", "b", "c"], ["b", "c", "a"], ["c", "b", "a"], ["b", "a", "d"]]
    assert metrics.top_k_accuracy(truth, ranked, k=1) == 0.25
    assert metrics.top_k_accuracy(truth, ranked, k=3) == 0.75


def test_abstention_table_gives_coverage_and_precision_per_threshold() -> None:
    confidence = [0.99, 0.9, 0.8, 0.4]
    correct = [True, True, False, True]
    rows = metrics.abstention_table(confidence, correct, thresholds=(0.0, 0.85, 0.995))
    assert [(r.coverage, r.precision, r.routed) for r in rows] == [
        (1.0, 0.75, 4),
        (0.5, 1.0, 2),
        (0.0, None, 0),
    ]


def test_threshold_for_precision_takes_the_widest_coverage_that_reaches_the_target() -> None:
    confidence = [0.99, 0.95, 0.9, 0.8, 0.7, 0.6]
    correct = [True, True, True, True, False, False]
    point = metrics.threshold_for_precision(confidence, correct, target=0.8)
    assert point is not None
    assert (point.threshold, point.coverage, point.precision) == (0.7, 5 / 6, 0.8)


def test_threshold_for_precision_never_splits_a_tie_and_may_find_none() -> None:
    # the two 0.9 cases go together: 1 of 2 right is below the target
    assert metrics.threshold_for_precision([0.9, 0.9], [True, False], target=0.95) is None


def test_normalise_folds_width_case_and_digits() -> None:
    assert normalise("  和平里ＡＢ 3号楼\t１２０1室 ") == "和平里ab 0号楼 0室"


def test_near_duplicates_pair_only_across_groups_and_flag_exact_copies() -> None:
    texts = [
        "和平里小区3号楼电梯坏了三天没人修",
        "和平里小区5号楼，电梯坏了三天没人修！",  # same after normalising
        "楼下烧烤店油烟熏得开不了窗",
        "楼下烧烤店油烟熏得开不了窗户啊",  # near, same group as the one above
        "路灯坏了晚上一片漆黑",
    ]
    found = near_duplicates(texts, [1, 2, 1, 1, 2], threshold=0.7)
    assert [(p.first, p.second, p.similarity) for p in found.examples] == [(0, 1, 1.0)]
    assert (found.exact_rows, found.near_rows, found.pairs) == (2, 2, 1)


def test_near_duplicates_count_pairs_but_keep_only_a_few_examples() -> None:
    texts = ["电梯坏了三天没人修"] * 40 + ["电梯坏了三天都没人修"] * 40
    found = near_duplicates(texts, [1, 2] * 40, threshold=0.5)  # the two differ at 0.5
    assert found.near_rows == 80 and found.exact_rows == 80
    assert found.pairs == 40 * 40  # every pair across the two folds, none within one
    assert len(found.examples) == 5 and found.examples[0].similarity < 1.0


def test_near_duplicates_of_a_training_only_row_pair_with_every_fold() -> None:
    found = near_duplicates(["电梯坏了没人修", "电梯坏了没人修。"], [-1, 3])
    assert found.exact_rows == 2


def test_shingles_of_a_short_text_is_the_text() -> None:
    assert shingles("漏水") == {"漏水"}
    assert shingles("，。") == set()


def test_columns_found_by_common_names_or_as_given() -> None:
    assert find_column(["ID", "诉求内容", "类别"], None, TEXT_NAMES, "文本") == "诉求内容"
    assert find_column(["Text", "Label"], None, TEXT_NAMES, "文本") == "Text"
    assert find_column(["a", "b"], "B", TEXT_NAMES, "文本") == "b"


def test_a_missing_column_is_named_with_the_columns_there(tmp_path: Path) -> None:
    with pytest.raises(TriageDataError, match=r"找不到文本列.*'正文'.*columns: a, b"):
        find_column(["a", "b"], "正文", TEXT_NAMES, "文本")
    with pytest.raises(TriageDataError, match="--text-column"):
        find_column(["a", "b"], None, TEXT_NAMES, "文本")


def test_columns_with_unknown_names_are_told_apart_by_their_values(tmp_path: Path) -> None:
    path = tmp_path / "judged.csv"
    rows = ["编号,甲,乙"] + [
        f"{i},{'小区电梯停运好几天了老人下不了楼' if i % 2 else '楼下餐馆油烟很大呛得没法开窗'},"
        f"{'elevator' if i % 2 else 'fume'}"
        for i in range(20)
    ]
    path.write_text("\n".join(rows), encoding="utf-8")
    data = load_labelled(path)
    assert (data.text_column, data.label_column) == ("甲", "乙")
    assert set(data.labels) == {"elevator", "fume"}
    with pytest.raises(TriageDataError, match="no column '丙'"):
        load_labelled(path, label_column="丙")  # a name given is never guessed


def test_gb18030_csv_from_chinese_excel_is_read(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes("内容,类别\n电梯坏了,property.elevator\n,缺文本\n".encode("gb18030"))
    data = load_labelled(path)
    assert (data.texts, data.labels, data.skipped) == (["电梯坏了"], ["property.elevator"], 1)


def test_utf8_csv_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufefftext,label\n漏水,property.water_leak\n".encode())
    assert read_table(path) == (["text", "label"], [["漏水", "property.water_leak"]])


def test_a_csv_in_no_known_encoding_is_refused_with_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b"text,label\n\xff\xff\xff\xff,x\n")
    with pytest.raises(TriageDataError, match="无法识别文件编码"):
        read_table(path)


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"\n\n")
    with pytest.raises(TriageDataError, match="文件是空的"):
        read_table(path)


def test_xlsx_is_read_from_its_first_sheet(tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["诉求内容", "类别", "编号"])
    sheet.append(["楼道里给电动车充电", "fire.ebike_charging", 17])
    sheet.append([None, None, None])
    path = tmp_path / "history.xlsx"
    book.save(path)
    data = load_labelled(path)
    assert (data.texts, data.labels, data.text_column) == (
        ["楼道里给电动车充电"],
        ["fire.ebike_charging"],
        "诉求内容",
    )


def test_identical_rows_with_the_same_label_train_as_one_weighted_row() -> None:
    import scipy.sparse as sp

    from shared.triage.linear import collapse_duplicates

    x = sp.csr_matrix([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    rows, labels, weights = collapse_duplicates(x, ["p", "p", "p", "q"])
    assert rows.tolist() == [0, 2, 3]
    assert labels.tolist() == ["p", "p", "q"]
    assert weights.tolist() == [2.0, 1.0, 1.0]
