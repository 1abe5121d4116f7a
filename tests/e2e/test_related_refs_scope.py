"""Naming another channel's number links only the same matter (issue 17 #4).

A link lets the linking channel read the case (title, owners, every number), so naming a
12345 number must not be enough: the submission is linked only when it is the same
category family at the same place; otherwise it is a new case, and the named one is kept
as a suggestion for a person to confirm, unseen by the channel. A case a key may not see
and a number nobody has answer the same 404.
"""

from __future__ import annotations

import secrets
import uuid

import httpx
import pytest

from shared.auth.keys import Role
from tests.e2e.conftest import Keys
from tests.e2e.intake_helpers import HEPINGLI, XINGFU, case
from tests.support.services import ServiceProcs

pytestmark = pytest.mark.e2e


async def test_naming_a_number_of_another_matter_suggests_it_and_never_shows_it(
    services: ServiceProcs, keys: Keys
) -> None:
    hotline = await keys.make(Role.CHANNEL, channel="hotline_12345")
    wechat = await keys.make(Role.CHANNEL, channel="wechat")
    ops = await keys.make(Role.OPS)
    intake = services.url("intake")
    number = f"12345-{secrets.token_hex(4)}"
    named = [{"channel": "hotline_12345", "ref": number}]
    elsewhere = HEPINGLI | {"compound": f"k{secrets.token_hex(3)}"}  # no other test's look-alikes
    async with httpx.AsyncClient(timeout=10) as http:
        theirs = await http.post(
            f"{intake}/v1/cases",
            json=case("property.elevator", "5号楼电梯困人", XINGFU, external_id=number),
            headers=hotline,
        )
        assert theirs.status_code == 201, theirs.text
        target = theirs.json()["case_id"]

        prying = case("neighbour.dispute", "邻居噪音", elsewhere, related_refs=named)
        mine = await http.post(f"{intake}/v1/cases", json=prying, headers=wechat)
        assert mine.status_code == 201, mine.text
        assert mine.json()["created"] is True and mine.json()["duplicate_of"] is None
        assert mine.json()["suggested_duplicates"] == []
        own = mine.json()["case_id"]

        hidden = await http.get(f"{intake}/v1/cases/{target}", headers=wechat)
        unknown = await http.get(f"{intake}/v1/cases/{uuid.uuid4()}", headers=wechat)
        assert (hidden.status_code, unknown.status_code) == (404, 404)
        assert hidden.json() == unknown.json()
        by_number = await http.get(f"{intake}/v1/refs/hotline_12345/{number}", headers=wechat)
        no_number = await http.get(f"{intake}/v1/refs/hotline_12345/NOPE-{number}", headers=wechat)
        assert (by_number.status_code, no_number.status_code) == (404, 404)
        assert by_number.json() == no_number.json() == hidden.json()
        seen = (await http.get(f"{intake}/v1/cases/{own}", headers=wechat)).json()
        assert seen["suggested_duplicates"] == []

        for_ops = (await http.get(f"{intake}/v1/cases/{own}", headers=ops)).json()
        assert for_ops["suggested_duplicates"] == [target]
        assert (await http.get(f"{intake}/v1/cases/{target}", headers=ops)).json()[
            "duplicates_linked"
        ] == 0

        same_family_elsewhere = case("property.leak", "楼上漏水", elsewhere, related_refs=named)
        r = await http.post(f"{intake}/v1/cases", json=same_family_elsewhere, headers=wechat)
        assert r.status_code == 201 and r.json()["duplicate_of"] is None

        same_matter = case(
            "property.elevator", "电梯困人", XINGFU, related_refs=named, external_id=f"W-{number}"
        )
        linked = await http.post(f"{intake}/v1/cases", json=same_matter, headers=wechat)
        assert linked.status_code == 201 and linked.json()["duplicate_of"] == target
        assert (await http.get(f"{intake}/v1/cases/{target}", headers=wechat)).status_code == 200
