"""What the workbench writes for people: Beijing time, names for ids, Chinese for codes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from services.router.pages.workbench.view import Names, key_person_reason, state, when
from shared.domain.owners import OwnerDirectory

OWNERS = OwnerDirectory.load(Path(__file__).resolve().parents[2] / "config" / "owners.yaml")
NAMES = Names(OWNERS, {"property.elevator": "电梯故障停运"})


def test_times_are_beijing_time_never_utc() -> None:
    assert when("2026-12-07T16:40:00Z") == "2026-12-08 00:40"
    assert when(datetime(2026, 12, 7, 16, 40, tzinfo=UTC)) == "2026-12-08 00:40"
    assert when(None) == "—"


def test_actors_and_reasons_name_the_owners_not_their_ids() -> None:
    assert NAMES.actor("department:wy-jinxiu") == "锦绣物业管理有限公司"
    assert NAMES.actor("channel:hotline_12345/王芳") == "12345热线 · 王芳"
    assert NAMES.actor("router") == "系统（分派）"
    said = NAMES.named("d01-s02-jd 吹哨：召集 d01-s02-pcs、d01-s02-pcs-x")
    assert said == "和平街道办事处 吹哨：召集 和平派出所、d01-s02-pcs-x"


def test_codes_are_written_in_chinese() -> None:
    assert state("acknowledged") == "已签收"
    assert NAMES.category("property.elevator") == "电梯故障停运"
    assert NAMES.place("d01.s02.c01.g01") == "和平里社区居委会辖区内"
    assert key_person_reason("repeat_petitions: 4 in 90 days") == "重复信访（90 天内 4 次）"
