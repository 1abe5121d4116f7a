"""The gazetteer (config/places.yaml) and the place resolver: addresses as said, points,
both together, the file's checks, and ``shaobao places resolve`` / ``rules check``."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shared.cli.main import app as shaobao
from shared.domain.errors import ConfigError
from shared.domain.owners import OwnerDirectory
from shared.domain.place_text import chinese_number, normalise
from shared.domain.places import Gazetteer

ROOT = Path(__file__).resolve().parents[2]
PLACES = ROOT / "config" / "places.yaml"
SAMPLE = ROOT / "tests" / "data" / "triage_sample.csv"

XINGFULI = "d01.s01.c01.g01.k01"  # 幸福里小区
JINXIU = "d01.s01.c01.g02.k01"  # 锦绣花园
GUANGMING = "d01.s01.c02.g01.k01"  # 光明小区
HEPINGLI = "d01.s02.c01.g01.k01"  # 和平里小区


@pytest.fixture(scope="module")
def places() -> Gazetteer:
    return Gazetteer.load(PLACES)


# --- addresses: each level, names, aliases, old names, landmarks ----------------------------
@pytest.mark.parametrize(
    ("address", "path"),
    [
        ("城西区", "d01"),
        ("城西", "d01"),  # the district without its suffix
        ("新华街道", "d01.s01"),
        ("新华街道办事处门口", "d01.s01"),
        ("和平街", "d01.s02"),
        ("幸福社区", "d01.s01.c01"),
        ("光明社区居委会", "d01.s01.c02"),
        ("和平里社区", "d01.s02.c01"),
        ("幸福社区第二网格", "d01.s01.c01.g02"),
        ("和平里网格", "d01.s02.c01.g01"),
        ("和平里小区3号楼2单元", HEPINGLI),
        ("和平里3号楼", HEPINGLI),
        ("城西区和平街道和平里", HEPINGLI),
        ("幸福里小区", XINGFULI),
        ("幸福里", XINGFULI),
        ("锦绣花园小区门口", JINXIU),
        ("光明小区旁边菜市场", GUANGMING),
        ("新华东里5号楼", XINGFULI),  # 幸福里小区's old name
        ("和平新村", HEPINGLI),  # 和平里小区's old name
        ("棉纺二厂家属院", JINXIU),
        ("光明菜市场门口占道经营", GUANGMING),  # a landmark
        ("和平里小学门口", HEPINGLI),
        ("锦绣花园东街菜市场", JINXIU),  # a shared landmark settled by the compound named
    ],
)
def test_an_address_resolves_confidently_to_the_deepest_place_it_names(
    places: Gazetteer, address: str, path: str
) -> None:
    match = places.resolve_address(address)
    assert (match.path, match.confident) == (path, True), match.explanation
    assert match.matched and match.source == "address"


def test_the_explanation_says_which_words_matched_and_the_building_range(
    places: Gazetteer,
) -> None:
    match = places.resolve_address("和平里小区3号楼2单元")
    assert match.explanation == (
        "地址“和平里小区3号楼2单元”中的“和平里小区”匹配 和平里小区 (d01.s02.c01.g01.k01)；"
        "3号楼在其楼号范围1–30内"
    )
    assert (match.level, match.name, match.building, match.unit) == ("compound", "和平里小区", 3, 2)
    assert [(h.said, h.path, h.kind) for h in match.matched] == [("和平里小区", HEPINGLI, "name")]


def test_an_alias_and_an_old_name_are_named_as_such(places: Gazetteer) -> None:
    assert "（别名）" in places.resolve_address("和平里3号楼").explanation
    assert "（旧名）" in places.resolve_address("和平新村").explanation
    assert "（地标）" in places.resolve_address("光明路公交站").explanation


def test_the_match_gives_every_level_as_intake_takes_it(places: Gazetteer) -> None:
    assert places.resolve_address("和平里3号楼").location == {
        "district": "d01",
        "street": "d01.s02",
        "community": "d01.s02.c01",
        "grid": "d01.s02.c01.g01",
        "compound": HEPINGLI,
    }
    assert places.resolve_address("新华街道").location["community"] is None
    assert set(places.resolve_address("翠苑二区").location.values()) == {None}


# --- numbers: full-width digits, Chinese numerals, ranges ----------------------------------
@pytest.mark.parametrize(
    ("address", "building", "unit"),
    [
        ("和平里小区３号楼２单元", 3, 2),  # full-width
        ("和平里小区三号楼二单元", 3, 2),
        ("和平里十二号楼", 12, None),
        ("和平里二十三栋", 23, None),
        ("和平里小区 7 号楼", 7, None),
        ("和平里12-3-301", 12, 3),
        ("和平里小区8幢", 8, None),
    ],
)
def test_building_and_unit_numbers_are_read_in_any_writing(
    places: Gazetteer, address: str, building: int, unit: int | None
) -> None:
    match = places.resolve_address(address)
    assert (match.path, match.building, match.unit, match.confident) == (
        HEPINGLI,
        building,
        unit,
        True,
    )


def test_chinese_numerals_and_normalisation() -> None:
    assert [chinese_number(n) for n in ["三", "十", "十二", "二十三", "一百零五", "一〇三"]] == [
        3,
        10,
        12,
        23,
        105,
        103,
    ]
    assert normalise("和平里 小区　三号楼ＡＢ") == "和平里小区3号楼AB"
    assert normalise("一个多月") == "一个多月"  # numerals not before 号楼/栋/单元 stay


def test_a_building_outside_the_known_range_is_not_confident(places: Gazetteer) -> None:
    match = places.resolve_address("和平里小区31号楼")
    assert (match.path, match.building, match.confident) == (HEPINGLI, 31, False)
    assert "31号楼不在其楼号范围1–30内" in match.explanation
    assert [c.path for c in match.candidates] == [HEPINGLI]


def test_a_building_number_by_an_area_that_is_not_a_compound_is_ignored(
    places: Gazetteer,
) -> None:
    match = places.resolve_address("和平街道99号楼")
    assert (match.path, match.building, match.confident) == ("d01.s02", None, True)


# --- doubts: shared names, contradictions, unknown places ----------------------------------
def test_a_shared_landmark_alone_is_ambiguous_between_its_compounds(places: Gazetteer) -> None:
    match = places.resolve_address("东街菜市场门口摆摊")
    assert (match.path, match.level, match.confident) == ("d01.s01.c01", "community", False)
    assert {c.path for c in match.candidates} == {XINGFULI, JINXIU}
    assert "无法确定" in match.explanation and "幸福社区 (d01.s01.c01)" in match.explanation


def test_two_compounds_named_fall_back_to_their_common_area(places: Gazetteer) -> None:
    match = places.resolve_address("和平里小区和光明小区之间的路口")
    assert (match.path, match.confident) == ("d01", False)
    assert [c.path for c in match.candidates[:2]] == sorted([GUANGMING, HEPINGLI])


def test_a_compound_of_another_street_than_the_street_named_is_a_contradiction(
    places: Gazetteer,
) -> None:
    match = places.resolve_address("新华街道和平里小区5号楼")
    assert (match.path, match.confident) == (HEPINGLI, False)
    assert "地名互相矛盾" in match.explanation and "“新华街道”(d01.s01)" in match.explanation
    assert [c.path for c in match.candidates] == [HEPINGLI, "d01.s01"]
    assert [c.score for c in match.candidates] == [0.5, 0.5]


def test_a_community_and_a_compound_that_agree_are_confident(places: Gazetteer) -> None:
    match = places.resolve_address("和平街道和平里社区和平里小区")
    assert (match.path, match.confident) == (HEPINGLI, True)
    assert "取最深一级 和平里小区" in match.explanation


@pytest.mark.parametrize(
    "address",
    ["翠苑二区14号楼", "滨江花园24号楼", "幸福家园3号楼", "锦绣华庭", "南苑北里", "希望社区",
     "东湖新村", "阳光100", "金地名郡小区", "老纺织厂宿舍电梯里", ""],
)  # fmt: skip
def test_places_not_in_the_gazetteer_are_unknown(places: Gazetteer, address: str) -> None:
    match = places.resolve_address(address)
    assert (match.path, match.level, match.confident, match.matched) == (None, None, False, ())
    assert "地点未知" in match.explanation


def test_an_unknown_compound_on_a_known_street_resolves_to_the_street_only(
    places: Gazetteer,
) -> None:
    match = places.resolve_address("新华街道翠苑二区14号楼")
    assert (match.path, match.building, match.confident) == ("d01.s01", None, True)


def test_no_sample_work_order_resolves_to_a_compound_it_does_not_name(places: Gazetteer) -> None:
    with SAMPLE.open(encoding="utf-8") as f:
        texts = [row["诉求内容"] for row in csv.DictReader(f)]
    for text in texts:
        match = places.resolve_address(text)
        assert match.path in (None, HEPINGLI), text
        assert (match.path == HEPINGLI) == ("和平里" in text), text


# --- points ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("lat", "lon", "path"),
    [
        (39.937, 116.336, XINGFULI),
        (39.937, 116.344, JINXIU),
        (39.923, 116.340, GUANGMING),
        (39.934, 116.360, HEPINGLI),
        (39.941, 116.3395, "d01.s01.c01.g01"),  # in the grid, outside the compound
        (39.930, 116.340, "d01.s01"),  # between the two communities
        (39.920, 116.360, "d01.s02"),
        (39.9155, 116.350, "d01"),  # between the two streets
    ],
)
def test_a_point_resolves_to_the_deepest_area_containing_it(
    places: Gazetteer, lat: float, lon: float, path: str
) -> None:
    match = places.resolve_point(lat, lon)
    assert (match.path, match.confident, match.source) == (path, True, "point")
    assert "范围内" in match.explanation


def test_a_point_outside_every_area_is_unknown(places: Gazetteer) -> None:
    match = places.resolve_point(39.90, 116.40)
    assert (match.path, match.confident) == (None, False)
    assert "不在任何已知区域内" in match.explanation


def test_a_point_on_the_border_of_two_grids_is_their_parent_not_confident(
    places: Gazetteer,
) -> None:
    match = places.resolve_point(39.933, 116.340)
    assert (match.path, match.confident) == ("d01.s01.c01", False)
    assert {c.path for c in match.candidates} == {"d01.s01.c01.g01", "d01.s01.c01.g02"}


def test_a_point_out_of_range_is_refused(places: Gazetteer) -> None:
    with pytest.raises(ValueError, match="坐标超出范围"):
        places.resolve_point(116.35, 39.93)  # lon and lat swapped


# --- address and point together ---------------------------------------------------------------
def test_a_confident_address_wins_over_a_point_elsewhere_and_says_so(places: Gazetteer) -> None:
    match = places.resolve("和平里小区3号楼", (39.937, 116.336))
    assert (match.path, match.confident, match.source) == (HEPINGLI, True, "address+point")
    assert "幸福里小区" in match.explanation and "不一致，以地址为准" in match.explanation
    assert match.building == 3


def test_a_point_settles_an_ambiguous_address_when_they_agree(places: Gazetteer) -> None:
    match = places.resolve("东街菜市场", (39.937, 116.344))
    assert (match.path, match.confident) == (JINXIU, True)
    assert "地址与坐标一致，取较深的 锦绣花园" in match.explanation


def test_an_unsure_address_and_a_point_elsewhere_stay_unsure(places: Gazetteer) -> None:
    match = places.resolve("东街菜市场", (39.934, 116.360))
    assert (match.path, match.confident) == ("d01.s01.c01", False)
    assert HEPINGLI in {c.path for c in match.candidates}
    assert "地址也不确定，需人工确认" in match.explanation


def test_an_unknown_address_falls_back_to_the_point(places: Gazetteer) -> None:
    match = places.resolve("翠苑二区14号楼", (39.923, 116.340))
    assert (match.path, match.confident) == (GUANGMING, True)
    assert "按坐标定位" in match.explanation


def test_nothing_given_is_unknown(places: Gazetteer) -> None:
    match = places.resolve(None, None)
    assert (match.path, match.confident, match.source) == (None, False, "none")


# --- the file's checks --------------------------------------------------------------------
def _file(*extra: str, ambiguous: str = "") -> str:
    base = [
        "  - {path: d01, name: 城西区, polygon: [[0, 0], [10, 0], [10, 10], [0, 10]]}",
        "  - {path: d01.s01, name: 新华街道, polygon: [[1, 1], [5, 1], [5, 9], [1, 9]]}",
        "  - {path: d01.s02, name: 和平街道, polygon: [[5, 1], [9, 1], [9, 9], [5, 9]]}",
    ]
    head = f"version: t\nambiguous: [{ambiguous}]\nplaces:\n"
    return head + "\n".join([*base, *extra]) + "\n"


def test_a_small_valid_file_loads() -> None:
    gazetteer = Gazetteer.from_text(_file(), file="p.yaml")
    assert [p.path for p in gazetteer.all()] == ["d01", "d01.s01", "d01.s02"]
    assert gazetteer.version.startswith("t+")


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ("  - {path: d01.s03.c01, name: 某社区}", "上级地点「d01.s03」未列出"),
        ("  - {path: d01.s01, name: 重复}", "重复的地点路径"),
        ("  - {path: d01..x, name: 坏路径}", "格式不对"),
        ("  - {path: d01.s01.c01, name: 新华街道}", ""),  # other level: allowed
        ("  - {path: d01.s03, name: 新华街道, polygon: [[9, 9], [10, 9], [10, 10]]}", "已属于 d01.s01"),
        ("  - {path: d01.s01.c01, name: 甲, polygon: [[1, 1], [6, 1], [6, 2], [1, 2]]}",
         "超出上级 d01.s01"),
        ("  - {path: d01.s03, name: 乙, polygon: [[4, 2], [6, 2], [6, 3], [4, 3]]}",
         "与 d01.s01 重叠"),
        ("  - {path: d01.s03, name: 丙, polygon: [[0, 0], [1, 1], [1, 0], [0, 1]]}",
         "不是有效多边形"),
        ("  - {path: d01.s03, name: 丁, polygon: [[0, 0], [200, 0], [1, 1]]}", "应为 [经度, 纬度]"),
        ("  - {path: d01.s03, name: 戊, buildings: {from: 1, to: 5}}", "只有小区有楼号范围"),
        ("  - {path: d01.s03, name: 己, colour: red}", "Extra inputs"),
    ],
)  # fmt: skip
def test_a_broken_places_file_is_refused_naming_place_field_and_line(
    extra: str, problem: str
) -> None:
    if not problem:
        Gazetteer.from_text(_file(extra))
        return
    with pytest.raises(ConfigError, match=re.escape(problem)) as err:
        Gazetteer.from_text(_file(extra), file="p.yaml")
    assert (err.value.file, err.value.line) == ("p.yaml", 7)


def test_a_name_shared_on_purpose_is_allowed_only_when_listed_and_really_shared() -> None:
    shared = "  - {path: d01.s01.c01, name: 甲社区, landmarks: [菜市场甲]}\n" \
             "  - {path: d01.s02.c01, name: 乙社区, landmarks: [菜市场甲]}"  # fmt: skip
    with pytest.raises(ConfigError, match="确实共用请列入 ambiguous"):
        Gazetteer.from_text(_file(shared))
    assert len(Gazetteer.from_text(_file(shared, ambiguous="菜市场甲")).all()) == 5
    with pytest.raises(ConfigError, match="不为两个地点共用"):
        Gazetteer.from_text(_file(ambiguous="菜市场甲"))


def test_the_sample_gazetteer_covers_exactly_the_owner_directory(places: Gazetteer) -> None:
    places.check_owners(OwnerDirectory.load(ROOT / "config" / "owners.yaml"))
    small = Gazetteer.from_text(_file("  - {path: d02, name: 城东区}"))
    with pytest.raises(ConfigError) as err:
        small.check_owners(OwnerDirectory.load(ROOT / "config" / "owners.yaml"))
    assert "d02（城东区）不在任何责任单位的辖区内" in str(err.value)
    assert f"区域 {HEPINGLI} 在地名库中没有" in str(err.value)


# --- the command line -----------------------------------------------------------------------
def test_places_resolve_prints_the_place_and_explanation() -> None:
    result = CliRunner().invoke(
        shaobao, ["places", "resolve", "和平里３号楼", "--lat", "39.937", "--lon", "116.336"]
    )
    assert result.exit_code == 0, result.output
    assert "地点 (place): 和平里小区 d01.s02.c01.g01.k01（小区）" in result.output
    assert "把握 (confident): 是" in result.output
    assert "以地址为准" in result.output


def test_places_resolve_json_and_bad_arguments() -> None:
    result = CliRunner().invoke(shaobao, ["places", "resolve", "东街菜市场", "--json"])
    assert result.exit_code == 0 and '"confident": false' in result.output
    assert '"community": "d01.s01.c01"' in result.output
    result = CliRunner().invoke(shaobao, ["places", "resolve", "x", "--lat", "39.9"])
    assert result.exit_code == 2 and "--lon" in result.output


def test_rules_check_validates_the_places_file_too(tmp_path: Path) -> None:
    rules = str(ROOT / "config" / "rules.yaml")
    ok = CliRunner().invoke(shaobao, ["rules", "check", rules])
    assert ok.exit_code == 0 and "地名库有效 (places ok)：14 个地点" in ok.output
    broken = tmp_path / "places.yaml"
    broken.write_text(_file("  - {path: d01.s03.c01, name: 某社区}"), encoding="utf-8")
    bad = CliRunner().invoke(shaobao, ["rules", "check", rules, "--places", str(broken)])
    assert bad.exit_code == 1
    assert "地名库有误 (invalid places): places.yaml:7" in bad.output


def test_a_street_stem_that_begins_another_place_name_is_no_alias(places: Gazetteer) -> None:
    assert places.resolve_address("和平").path is None  # 和平 begins 和平里
    assert places.resolve_address("新华").path is None  # 新华 begins 新华东里 (an old name)
    assert places.resolve_address("城西").path == "d01"


def test_a_long_text_naming_a_place_many_times_gets_a_short_explanation() -> None:
    """A 5,000-character complaint repeating its address: each word is named once and the
    text is quoted shortened, so what a dispatcher reads (and the event carries) stays short."""
    gazetteer = Gazetteer.load(ROOT / "config" / "places.yaml")
    match = gazetteer.resolve_address(("和平里小区3号楼" * 700)[:5000])
    assert match.path == "d01.s02.c01.g01.k01"
    assert len(match.explanation) < 300
    assert match.explanation.count("匹配") == 1
