"""Open311 forms, links and XML without a stack (the HTTP behaviour: tests/e2e/test_open311.py)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from jsonschema import ValidationError

from services.intake.api.open311_render import render
from services.intake.open311_form import (
    MEDIA_MARK,
    FormError,
    media_url,
    parse_form,
    split_media,
    to_case,
)
from tests.support.open311 import validate

NAMES = {"environment.cooking_fume": "餐饮油烟扰民", "unclassified": "待分类"}


def test_a_form_becomes_a_case_with_a_title_from_its_first_line_and_a_chinese_name() -> None:
    form = parse_form("description=楼下饭馆油烟直排%0A请尽快处理&address_string=幸福里5号楼"
                      "&first_name=小明&last_name=王&lat=39.937&long=116.336"
                      "&jurisdiction_id=city&attribute%5Bx%5D=1".encode())  # fmt: skip
    case = to_case(form, NAMES)
    assert case.title == "楼下饭馆油烟直排" and case.category is None and case.location is None
    assert case.petitioner is not None and case.petitioner.name == "王小明"
    assert case.point is not None and (case.point.lat, case.point.lon) == (39.937, 116.336)


def test_a_latin_name_keeps_first_name_first() -> None:
    case = to_case({"description": "x", "address_string": "y", "first_name": "Ann",
                    "last_name": "Lee"}, NAMES)  # fmt: skip
    assert case.petitioner is not None and case.petitioner.name == "Ann Lee"


@pytest.mark.parametrize(
    "raw",
    [b"description=a&description=b", b"lng=1", b"description=%FF", b"\xff=1"],
)
def test_a_malformed_or_ambiguous_form_is_refused(raw: bytes) -> None:
    with pytest.raises(FormError):
        parse_form(raw)


@pytest.mark.parametrize(
    "link",
    ["file:///etc/passwd", "javascript:alert(1)", "ftp://x/y", "http://", "http://a b/",
     "https://x/" + "a" * 2048],
)  # fmt: skip
def test_media_url_must_be_an_http_url_of_at_most_2048_characters(link: str) -> None:
    with pytest.raises(FormError):
        media_url(link)


def test_a_private_address_is_only_text_and_read_back_from_the_description() -> None:
    link = "http://127.0.0.1:8080/a.jpg"
    case = to_case({"description": "油烟", "address_string": "幸福里", "media_url": link}, NAMES)
    assert case.description == "油烟" + MEDIA_MARK + link
    assert split_media(case.description) == ("油烟", link)
    forged = "油烟" + MEDIA_MARK + "javascript:alert(1)"
    assert split_media(forged) == (forged, None)


def test_unclassified_is_no_service() -> None:
    with pytest.raises(FormError, match="service_code"):
        to_case({"description": "x", "address_string": "y", "service_code": "unclassified"}, NAMES)


def test_xml_uses_the_spec_element_names_and_drops_what_xml_cannot_carry() -> None:
    response = render("xml", "service_requests", "request",
                      [{"service_request_id": "SB1", "lat": None, "media_url": "a\x0bb",
                        "formats": ["text/xml"]}])  # fmt: skip
    root = ET.fromstring(bytes(response.body))
    assert root.tag == "service_requests"
    assert root.findtext("request/service_request_id") == "SB1"
    assert root.findtext("request/media_url") == "ab"
    assert root.findtext("request/formats/format") == "text/xml"


def test_the_vendored_schemas_refuse_a_request_without_its_required_fields() -> None:
    with pytest.raises(ValidationError):
        validate([{"service_request_id": "SB1", "status": "open"}], "requests.json")
    with pytest.raises(ValidationError):
        validate([{"service_request_id": "SB1", "status": "open", "service_code": "x",
                   "requested_datetime": "yesterday"}], "requests.json")  # fmt: skip
