"""Issue 21, Open311: GeoReport v2 at intake's ``/open311/v2/`` on the real stack.

JSON answers are validated against the published GeoReport v2 schemas (tests/data/open311,
vendored; the POST answer, errors and discovery against schemas written from the spec).
Free-text requests are routed by the session's sample triage model and the gazetteer
(config/places.yaml), as in tests/e2e/test_triage.py.
"""

from __future__ import annotations

import asyncio
import secrets
import xml.etree.ElementTree as ET
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from shared.auth.keys import Role
from shared.domain.rules import RuleSet
from tests.e2e.conftest import Keys
from tests.e2e.intake_helpers import phone
from tests.support.open311 import validate
from tests.support.services import ServiceProcs, free_port
from tests.support.stack import StackUnderTest
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

RULES = Path(__file__).resolve().parents[2] / "config" / "rules.yaml"
XINGFU_PATH = "d01.s01.c01.g01.k01"
INSIDE_XINGFU = {"lat": "39.937", "long": "116.336"}  # inside 幸福里小区's polygon
FUME = "楼下饭馆油烟直排，熏得没法开窗，市民诉求：尽快解决油烟问题"
ECOLOGY = "城西区生态环境局"  # d01-sthj, the lead for cooking fumes (config/owners.yaml)


@pytest.fixture(scope="module")
async def keys(stack: StackUnderTest) -> dict[str, str]:
    k = Keys(stack)
    made = {
        "app": await k.make(Role.CHANNEL, channel="wechat"),
        "other": await k.make(Role.CHANNEL, channel="grid_app"),
        "ops": await k.make(Role.OPS),
        "dept": await k.make(Role.DEPARTMENT, owner="d01-sthj"),
    }
    return {name: h["Authorization"].removeprefix("Bearer ") for name, h in made.items()}


@pytest.fixture(scope="module")
async def http(services: ServiceProcs) -> Any:
    base = services.url("intake") + "/open311/v2"
    async with httpx.AsyncClient(base_url=base, timeout=15) as client:
        yield client


def bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


async def post(http: httpx.AsyncClient, key: str | None, fmt: str = "json", **form: str
               ) -> httpx.Response:  # fmt: skip
    data = form | ({"api_key": key} if key is not None else {})
    return await http.post(f"/requests.{fmt}", data=data)


async def read(http: httpx.AsyncClient, key: str, number: str) -> httpx.Response:
    return await http.get(f"/requests/{number}.json", headers=bearer(key))


async def routed(http: httpx.AsyncClient, key: str, number: str) -> dict[str, Any]:
    """The request once intake has heard of its dispatch (its agency is known)."""

    async def look() -> dict[str, Any] | None:
        r = await read(http, key, number)
        assert r.status_code == 200, r.text
        found: dict[str, Any] = r.json()[0]
        return found if found["agency_responsible"] else None

    return await eventually(look, timeout=60, what=f"request {number} dispatched")


def xml(r: httpx.Response) -> ET.Element:
    assert r.headers["content-type"].startswith("text/xml"), r.headers
    return ET.fromstring(r.content)  # our own answer, in a test


async def test_discovery_names_the_georeport_v2_endpoint_in_json_and_xml(
    http: httpx.AsyncClient,
) -> None:
    r = await http.get("/discovery.json")
    assert r.status_code == 200, r.text
    validate(r.json(), "written-here/discovery.json")
    endpoint = r.json()["endpoints"][0]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2")
    assert r.json()["changeset"].endswith("+08:00")
    root = xml(await http.get("/discovery.xml"))
    assert root.tag == "discovery"
    assert [f.text for f in root.iter("format")] == ["application/json", "text/xml"]


async def test_services_are_the_categories_of_the_rules_in_json_and_xml(
    http: httpx.AsyncClient,
) -> None:
    categories = RuleSet.load(RULES).categories
    expected = {c: n for c, n in categories.items() if c != "unclassified"}
    r = await http.get("/services.json")
    assert r.status_code == 200, r.text
    validate(r.json(), "services.json")
    assert {s["service_code"]: s["service_name"] for s in r.json()} == expected
    fume = next(s for s in r.json() if s["service_code"] == "environment.cooking_fume")
    assert fume | {"group": "environment", "type": "realtime", "metadata": False} == fume
    root = xml(await http.get("/services.xml"))
    assert {s.findtext("service_code"): s.findtext("service_name") for s in root} == expected
    assert root.find("service/metadata").text == "false"  # type: ignore[union-attr]

    one = await http.get("/services/environment.cooking_fume.json")
    assert one.status_code == 200, one.text
    validate(one.json(), "service-definition.json")
    assert one.json() == {"service_code": "environment.cooking_fume", "attributes": []}
    assert xml(await http.get("/services/environment.cooking_fume.xml")).tag == "service_definition"
    for code in ("unclassified", "no.such"):
        missing = await http.get(f"/services/{code}.json")
        assert missing.status_code == 404
        validate(missing.json(), "written-here/errors.json")
    assert (await http.get("/services.csv")).status_code == 404


async def test_a_free_text_request_with_an_address_is_routed_and_read_back_with_its_agency(
    http: httpx.AsyncClient, keys: dict[str, str]
) -> None:
    """No service_code: the model decides the matter and the address the place, as for any
    free-text case; the request then shows the lead's name as ``agency_responsible``."""
    r = await post(http, keys["app"], description=FUME, address_string="幸福里小区5号楼3单元",
                   first_name="小明", last_name="王", phone=phone())  # fmt: skip
    assert r.status_code == 201, r.text
    validate(r.json(), "written-here/request-created.json")
    number = r.json()[0]["service_request_id"]
    assert number.startswith("SB") and "派" in r.json()[0]["service_notice"]

    found = await routed(http, keys["app"], number)
    validate([found], "requests.json")
    assert found["agency_responsible"] == ECOLOGY
    assert found["service_code"] == "environment.cooking_fume"
    assert found["service_name"] == "餐饮油烟扰民"
    assert found["status"] == "open" and found["status_notes"] == "已派单"
    assert found["requested_datetime"].endswith("+08:00")
    assert found["address"] == "幸福里小区5号楼3单元" and found["media_url"] is None

    listed = await http.get("/requests.json", params={"service_request_id": number},
                            headers=bearer(keys["app"]))  # fmt: skip
    assert [x["service_request_id"] for x in listed.json()] == [number]
    recent = await http.get("/requests.json", params={"status": "open",
                            "service_code": "environment.cooking_fume"}, headers=bearer(keys["app"]))  # fmt: skip
    validate(recent.json(), "requests.json")
    assert number in {x["service_request_id"] for x in recent.json()}
    closed = await http.get("/requests.json", params={"status": "closed"},
                            headers=bearer(keys["app"]))  # fmt: skip
    assert number not in {x["service_request_id"] for x in closed.json()}

    root = xml(await http.get(f"/requests/{number}.xml", headers=bearer(keys["app"])))
    assert root.tag == "service_requests"
    assert root.findtext("request/service_request_id") == number
    assert root.findtext("request/agency_responsible") == ECOLOGY


async def test_a_point_alone_places_the_request_in_the_compound_that_contains_it(
    http: httpx.AsyncClient, stack: StackUnderTest, keys: dict[str, str]
) -> None:
    r = await post(http, keys["app"], description=FUME, **INSIDE_XINGFU)
    assert r.status_code == 201, r.text
    number = r.json()[0]["service_request_id"]
    assert (await routed(http, keys["app"], number))["agency_responsible"] == ECOLOGY
    compound = await stack.fetchval(
        "SELECT compound FROM intake.cases WHERE case_number = $1", number
    )
    assert compound == XINGFU_PATH


async def test_an_xml_post_answers_in_xml(http: httpx.AsyncClient, keys: dict[str, str]) -> None:
    r = await post(http, keys["app"], "xml", description=FUME, address_string="幸福里小区2号楼",
                   service_code="environment.cooking_fume")  # fmt: skip
    assert r.status_code == 201, r.text
    root = xml(r)
    assert root.tag == "service_requests"
    assert (root.findtext("request/service_request_id") or "").startswith("SB")


class Listener:
    """A TCP listener that records every connection (a fetch of media_url would be one)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.hits = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> Listener:
        self._server = await asyncio.start_server(self._hit, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _hit(self, _: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.hits += 1
        writer.close()


async def test_media_url_is_kept_as_a_link_and_never_fetched(
    http: httpx.AsyncClient, keys: dict[str, str]
) -> None:
    async with Listener() as listener:
        link = f"http://127.0.0.1:{listener.port}/photos/fume.jpg?x=1"
        r = await post(http, keys["app"], description=FUME, address_string="幸福里小区3号楼",
                       media_url=link)  # fmt: skip
        assert r.status_code == 201, r.text
        found = await routed(http, keys["app"], r.json()[0]["service_request_id"])
        assert found["media_url"] == link
        assert link not in found["description"]
        assert listener.hits == 0


TOO_LONG = "投诉" * 2001


@pytest.mark.parametrize(
    ("form", "status", "says"),
    [
        ({"service_code": "no.such"}, 400, "service_code"),
        ({"service_code": "unclassified"}, 400, "service_code"),
        ({"lat": "39.937"}, 400, "lat"),
        ({"lat": "91", "long": "116.336"}, 400, "lat"),
        ({"lat": "abc", "long": "116.336"}, 400, "lat"),
        ({"media_url": "file:///etc/passwd"}, 400, "media_url"),
        ({"media_url": "javascript:alert(1)"}, 400, "media_url"),
        ({"media_url": "http://x/" + "a" * 2050}, 400, "media_url"),
        ({"description": TOO_LONG}, 400, "description"),
        ({"description": ""}, 400, "description"),
        ({"address_string": ""}, 400, "address_string"),
        ({"lng": "116.336"}, 400, "lng"),
        ({"email": "not-an-email"}, 400, "email"),
        ({"phone": "12"}, 400, "phone"),
        ({"description": "坏\x00字符"}, 400, "description"),
    ],
)
async def test_a_bad_form_is_refused_with_the_spec_error_list_and_records_nothing(
    http: httpx.AsyncClient, keys: dict[str, str], stack: StackUnderTest,
    form: dict[str, str], status: int, says: str,
) -> None:  # fmt: skip
    marker = secrets.token_hex(6)
    base = {"description": f"{FUME} {marker}", "address_string": "幸福里小区5号楼"}
    r = await post(http, keys["app"], **(base | form))
    assert r.status_code == status, r.text
    validate(r.json(), "written-here/errors.json")
    assert r.json()[0]["code"] == status and says in r.json()[0]["description"]
    count = await stack.fetchval(
        "SELECT count(*) FROM intake.cases WHERE description LIKE $1", f"%{marker}%"
    )
    assert count == 0


async def test_a_body_that_is_not_a_form_or_too_large_is_refused(
    http: httpx.AsyncClient, keys: dict[str, str]
) -> None:
    as_json = await http.post("/requests.json", json={"api_key": keys["app"], "description": FUME})
    assert as_json.status_code == 415
    validate(as_json.json(), "written-here/errors.json")
    twice = await http.post("/requests.json", content=f"api_key={keys['app']}&description=a&description=b",
                            headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert twice.status_code == 400 and "多次" in twice.text
    huge = await post(http, keys["app"], description="油烟" * 40_000, address_string="幸福里")
    assert huge.status_code == 413
    bad_xml = await post(http, keys["app"], "xml", description="油烟", lat="1")
    assert bad_xml.status_code == 400 and xml(bad_xml).tag == "errors"


async def test_keys_are_checked_as_bearer_keys_are_and_never_taken_from_a_url(
    http: httpx.AsyncClient, keys: dict[str, str]
) -> None:
    form = {"description": FUME, "address_string": "幸福里小区5号楼"}
    for key, status in ((None, 401), ("sb_wrong", 401), (keys["ops"], 403), (keys["dept"], 403)):
        r = await post(http, key, **form)
        assert r.status_code == status, (key, r.text)
        validate(r.json(), "written-here/errors.json")
    in_url = await http.post("/requests.json", params={"api_key": keys["app"]}, data=form)
    assert in_url.status_code == 400 and "网址" in in_url.json()[0]["description"]
    read_in_url = await http.get("/requests.json", params={"api_key": keys["app"]})
    assert read_in_url.status_code == 400
    assert (await http.get("/requests.json")).status_code == 401
    assert (await http.get("/requests.json", headers=bearer(keys["ops"]))).status_code == 403
    header_only = await http.post("/requests.json", data=form, headers=bearer(keys["app"]))
    assert header_only.status_code == 201, header_only.text


async def test_another_channels_request_answers_404_exactly_like_an_unknown_one(
    http: httpx.AsyncClient, keys: dict[str, str]
) -> None:
    r = await post(http, keys["app"], description=FUME, address_string="幸福里小区6号楼")
    number = r.json()[0]["service_request_id"]
    theirs = await read(http, keys["other"], number)
    unknown = await read(http, keys["other"], "SB20000101-999999")
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.content == unknown.content
    listed = await http.get("/requests.json", params={"service_request_id": number},
                            headers=bearer(keys["other"]))  # fmt: skip
    assert listed.status_code == 200 and listed.json() == []


async def test_a_retry_with_the_same_idempotency_key_answers_the_first_request(
    http: httpx.AsyncClient, keys: dict[str, str]
) -> None:
    """Open311 has no idempotency field: the ``Idempotency-Key`` header of ``POST /v1/cases``
    makes a retry safe; without it every POST is a new request."""
    form = {"api_key": keys["app"], "description": FUME, "address_string": "幸福里小区7号楼",
            "device_id": "phone-1"}  # fmt: skip
    retry = {"Idempotency-Key": f"app-{secrets.token_hex(8)}"}
    first = await http.post("/requests.json", data=form, headers=retry)
    again = await http.post("/requests.json", data=form, headers=retry)
    assert (first.status_code, again.status_code) == (201, 200), again.text
    assert first.json()[0]["service_request_id"] == again.json()[0]["service_request_id"]
    assert "重复提交" in again.json()[0]["service_notice"]
    fresh = await http.post("/requests.json", data=form)
    assert fresh.json()[0]["service_request_id"] != first.json()[0]["service_request_id"]


async def test_the_georeport_client_reads_services_and_a_posted_request(
    http: httpx.AsyncClient, services: ServiceProcs, keys: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """The ``georeport`` package from PyPI (0.3.1) against the real stack. It cannot post
    (it has no create call) and sends no key, so the request is posted as a form by httpx
    and the client reads with the key added as a header (the house rule: no key in a URL)."""
    import georeport.georeport
    import requests
    from georeport import GeoReport

    root = services.url("intake") + "/open311/v2"
    as_json, as_xml = GeoReport(root), GeoReport(root, output_format="xml")
    listed = await asyncio.to_thread(as_json.get_service_list)
    assert "environment.cooking_fume" in {s["service_code"] for s in listed}
    listed_xml = await asyncio.to_thread(as_xml.get_service_list)
    assert {s["service_code"] for s in listed_xml} == {s["service_code"] for s in listed}
    definition = await asyncio.to_thread(as_json.get_service_definition, "property.elevator")
    assert definition["service_code"] == "property.elevator"

    r = await post(http, keys["app"], description=FUME, address_string="幸福里小区8号楼",
                   media_url="https://photos.example.org/fume.jpg")  # fmt: skip
    number = r.json()[0]["service_request_id"]
    await routed(http, keys["app"], number)
    keyed = SimpleNamespace(get=partial(requests.get, headers=bearer(keys["app"]), timeout=15))
    monkeypatch.setattr(georeport.georeport, "requests", keyed)
    one = await asyncio.to_thread(as_json.get_service_request, number)
    assert one["service_request_id"] == number and one["agency_responsible"] == ECOLOGY
    assert one["media_url"] == "https://photos.example.org/fume.jpg"
    one_xml = await asyncio.to_thread(as_xml.get_service_request, number)
    assert one_xml["service_request_id"] == number and one_xml["status"] == "open"
    many = await asyncio.to_thread(as_json.get_service_requests, service_request_id=number)
    assert [x["service_request_id"] for x in many] == [number]


async def test_the_agency_is_the_lead_when_co_handlers_hold_dispatches_too(
    http: httpx.AsyncClient, keys: dict[str, str]
) -> None:
    """An e-bike charged in a corridor goes to the fire brigade (lead) with the property
    firm (co-handler): the agency is the lead, not empty."""
    r = await post(http, keys["app"], service_code="fire.ebike_charging",
                   description="楼道里有人给电动车充电，太危险了", address_string="锦绣花园3号楼")  # fmt: skip
    assert r.status_code == 201, r.text
    number = r.json()[0]["service_request_id"]
    assert (await routed(http, keys["app"], number))["agency_responsible"] == "城西区消防救援支队"
