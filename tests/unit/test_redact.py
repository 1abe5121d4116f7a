"""Phone and ID numbers in free text are masked; dates and building numbers are not."""

from __future__ import annotations

import pytest

from shared.security.redact import mask_numbers, mask_optional


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("请联系我13812345678谢谢", "请联系我138****5678谢谢"),
        ("电话 138-1234-5678。", "电话 138****5678。"),
        ("电话 138 1234 5678", "电话 138****5678"),
        ("+8619912345678", "199****5678"),
        ("86 15912345678", "159****5678"),
        ("座机010-12345678", "座机010-****5678"),
        ("座机 0571 8765432", "座机 0571-***5432"),
        ("座机（021）87654321", "座机021-****4321"),
        ("(0755)87654321", "0755-****4321"),
        ("02087654321", "020-****4321"),
        ("身份证110101199003071234", "身份证110***********1234"),
        ("身份证11010119900307123X。", "身份证110***********123X。"),
        ("身份证 11010119900307123x", "身份证 110***********123x"),
        ("旧证110101900307123", "旧证110********7123"),
        ("全角１３８１２３４５６７８", "全角138****5678"),
        ("两个：13812345678、13987654321", "两个：138****5678、139****4321"),
    ],
)
def test_numbers_are_masked(text: str, masked: str) -> None:
    assert mask_numbers(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "3号楼电梯停运两天",
        "2024-05-01 上午，1201室漏水",
        "20240501 起停水",
        "2024年5月1日 14:30",
        "维修费15000元，共12户",
        "订单号 123456789012345678901",  # 21 digits: not an ID number
        "工单 12345-20240501-0001",
        "12345热线",
        "1234567890",  # 10 digits, no area code
        "10086",
        "第11号 第1栋 12楼",
        "２０２４年５月１日",
    ],
)
def test_dates_building_numbers_and_longer_numbers_are_left_alone(text: str) -> None:
    assert mask_numbers(text) == text


def test_none_stays_none() -> None:
    assert mask_optional(None) is None
    assert mask_optional("13812345678") == "138****5678"
