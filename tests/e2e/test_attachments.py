"""Photos, call recordings and documents travel with a case (issue 19, attachments).

As the people who use them: a hotline uploads the resident's photo and submits the case
naming it; the property firm holding the dispatch reads the description, the address and
the photo (linked from its webhook), uploads a written commitment and resolves with it as
evidence; the hotline reads that evidence. Another owner gets 404, the same as for an id
that does not exist. Wrong type 415, too large 413, empty 422, each with a Chinese
reason; the same bytes uploaded twice are stored once; an attachment survives a restart
of the service that serves it.
"""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.auth.keys import Role
from tests.e2e.conftest import ATTACHMENT_MAX_BYTES, Keys
from tests.e2e.test_first_case import ELEVATOR, register_all_endpoints, with_petitioner
from tests.support.receiver import WebhookReceiver
from tests.support.services import ServiceProcs
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e
OTHER_OWNER = "d01-sthj"


def jpeg() -> bytes:
    """A photo's first bytes (JFIF) and unique content: each call is a new attachment."""
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01" + secrets.token_bytes(2048)


def pdf() -> bytes:
    return b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + secrets.token_bytes(1024) + b"\n%%EOF\n"


async def upload(
    http: httpx.AsyncClient,
    base: str,
    key: dict[str, str],
    data: bytes,
    name: str,
    claimed: str = "application/octet-stream",
) -> httpx.Response:
    """Upload ``data`` claiming the type ``claimed`` (never believed: the bytes decide)."""
    return await http.post(
        f"{base}/v1/attachments",
        params={"filename": name},
        content=data,
        headers=key | {"Content-Type": claimed},
    )


def stored_files(services: ServiceProcs, aid: str) -> list[Path]:
    root = Path(services.env_extra["SHAOBAO_ATTACHMENTS_DIR"])
    return [p for p in root.rglob(aid) if p.is_file()]


async def test_holder_reads_the_photo_and_resolves_with_evidence_others_get_404(
    services: ServiceProcs, keys: Keys
) -> None:
    channel = await keys.make(Role.CHANNEL, channel="hotline_12345")
    admin = await keys.make(Role.ADMIN)
    intake, router = services.url("intake"), services.url("router")
    photo = jpeg()
    body = with_petitioner(ELEVATOR) | {
        "external_id": f"12345-{secrets.token_hex(4)}",
        "address": "幸福小区3号楼2单元501",
        "description": "3号楼电梯停运两天，照片见附件。",
    }
    async with (
        WebhookReceiver(secrets.token_urlsafe(24)) as receiver,
        httpx.AsyncClient(timeout=15) as http,
    ):
        await register_all_endpoints(http, services, admin, receiver)
        callback = {"url": receiver.url, "secret": receiver.secret}
        put = await http.put(f"{services.url('notifier')}/v1/channel-callbacks/hotline_12345",
                             json=callback, headers=channel)  # fmt: skip
        assert put.status_code == 200, put.text
        sent = await upload(http, intake, channel, photo, "../../etc/电梯.jpg", "text/html")
        assert sent.status_code == 201, sent.text
        photo_id = sent.json()["attachment_id"]
        assert photo_id == hashlib.sha256(photo).hexdigest()
        assert (sent.json()["filename"], sent.json()["content_type"]) == ("电梯.jpg", "image/jpeg")

        answer = await http.post(
            f"{intake}/v1/cases", json=body | {"attachments": [photo_id]}, headers=channel
        )
        assert answer.status_code == 201, answer.text
        case_id = answer.json()["case_id"]

        async def webhook() -> dict[str, Any] | None:
            return next(
                (m for m in receiver.accepted
                 if m.get("case_id") == case_id and m.get("event") == "case.dispatched"
                 and m.get("dispatch", {}).get("role") == "lead"),  # not the channel's
                None,
            )  # fmt: skip

        hook = await eventually(webhook, timeout=30, what="the lead's dispatch webhook")
        [linked] = hook["attachments"]
        assert linked["attachment_id"] == photo_id and "附件 1 个" in hook["message"]
        assert linked["url"] == f"{router}/v1/cases/{case_id}/attachments/{photo_id}"
        holder = await keys.make(Role.DEPARTMENT, owner=hook["dispatch"]["owner_id"])

        case = (await http.get(f"{router}/v1/cases/{case_id}", headers=holder)).json()
        assert (case["description"], case["address"]) == (body["description"], body["address"])
        [listed] = case["attachments"]
        assert (listed["kind"], listed["filename"], listed["size"]) == (
            "intake",
            "电梯.jpg",
            len(photo),
        )
        assert listed["attached_by"] == "channel:hotline_12345"

        got = await http.get(linked["url"], headers=holder)
        assert got.status_code == 200 and got.content == photo
        assert got.headers["content-type"] == "image/jpeg"
        assert got.headers["x-content-type-options"] == "nosniff"
        assert got.headers["content-disposition"].startswith("attachment;")

        promise = pdf()
        up = await upload(http, router, holder, promise, "书面承诺.pdf")
        assert up.status_code == 201, up.text
        promise_id = up.json()["attachment_id"]
        dispatch = f"{router}/v1/dispatches/{hook['dispatch']['dispatch_id']}"
        assert (await http.post(f"{dispatch}/acknowledge", headers=holder)).status_code == 200
        site = jpeg()
        site_id = (await upload(http, router, holder, site, "现场.jpg")).json()["attachment_id"]
        progress = {"note": "维保单位已到场", "attachments": [site_id]}
        assert (await http.post(f"{dispatch}/progress", json=progress, headers=holder)).is_success

        async def progress_callback() -> dict[str, Any] | None:
            return next(
                (m for m in receiver.accepted
                 if m.get("case_id") == case_id and m.get("event") == "dispatch.progressed"),
                None,
            )  # fmt: skip

        told = await eventually(progress_callback, timeout=30, what="the progress callback")
        [site_link] = told["attachments"]
        assert site_link["url"] == f"{router}/v1/cases/{case_id}/attachments/{site_id}"
        assert (await http.get(site_link["url"], headers=channel)).content == site
        resolve = {"outcome": "resolved", "summary": "已修复电梯", "attachments": [promise_id]}
        # The channel's photo is on the case, but the holder did not upload it: refused
        # whole, nothing linked, the dispatch still open for the real resolution below.
        theirs = resolve | {"attachments": [promise_id, photo_id]}
        named = await http.post(f"{dispatch}/resolve", json=theirs, headers=holder)
        assert named.status_code == 422, named.text
        assert named.json() == {"detail": f"附件 {photo_id[:12]}… 不存在或不是本方上传的，请先上传 (unknown attachment)"}  # fmt: skip
        resolved = await http.post(f"{dispatch}/resolve", json=resolve, headers=holder)
        assert resolved.status_code == 200, resolved.text
        case = (await http.get(f"{router}/v1/cases/{case_id}", headers=holder)).json()
        kinds = {a["attachment_id"]: a["kind"] for a in case["attachments"]}
        assert kinds == {photo_id: "intake", site_id: "progress", promise_id: "evidence"}
        evidence = f"{router}/v1/cases/{case_id}/attachments/{promise_id}"
        assert (await http.get(evidence, headers=channel)).content == promise  # the channel

        async def resolved_callback() -> dict[str, Any] | None:
            return next(
                (m for m in receiver.accepted
                 if m.get("case_id") == case_id and m.get("event") == "dispatch.resolved"),
                None,
            )  # fmt: skip

        result = await eventually(resolved_callback, timeout=30, what="the result callback")
        assert [a["url"] for a in result["attachments"]] == [evidence]
        assert result["summary"] == "已修复电梯" and "凭证 1 份" in result["message"]

        other = await keys.make(Role.DEPARTMENT, owner=OTHER_OWNER)
        forged = "0" * 64
        refused = [
            await http.get(linked["url"], headers=other),
            await http.get(f"{router}/v1/attachments/{photo_id}", headers=other),
            await http.get(f"{intake}/v1/attachments/{photo_id}",
                           headers=await keys.make(Role.CHANNEL, channel="wechat")),
        ]  # fmt: skip
        unknown = await http.get(f"{router}/v1/attachments/{forged}", headers=other)
        assert [r.status_code for r in refused] == [404, 404, 404]
        assert all(r.json() == unknown.json() for r in refused) and unknown.status_code == 404

        services.kill("router", sig=15)
        services.start("router")
        await services.wait_ready("router")
        again = await http.get(evidence, headers=holder)
        assert again.status_code == 200 and again.content == promise


async def test_refusals_say_why_in_chinese_and_store_nothing(
    services: ServiceProcs, keys: Keys
) -> None:
    channel = await keys.make(Role.CHANNEL, channel="wechat")
    intake = services.url("intake")
    page = b"<html><script>alert(1)</script></html>"
    async with httpx.AsyncClient(timeout=15) as http:
        wrong = await upload(http, intake, channel, page, "photo.jpg", "image/jpeg")
        assert wrong.status_code == 415 and "不接受此类文件" in wrong.json()["detail"]
        larger_than_json = jpeg() + b"\0" * (256 * 1024)  # over the 64 KiB of other routes
        assert (await upload(http, intake, channel, larger_than_json, "a.jpg")).status_code == 201
        big = jpeg() + b"\0" * ATTACHMENT_MAX_BYTES
        too_big = await upload(http, intake, channel, big, "big.jpg")
        assert too_big.status_code == 413 and "上限" in too_big.json()["detail"]
        empty = await upload(http, intake, channel, b"", "empty.jpg")
        assert empty.status_code == 422 and "附件为空" in empty.json()["detail"]
        assert not stored_files(services, hashlib.sha256(page).hexdigest())
        assert not stored_files(services, hashlib.sha256(big).hexdigest())

        for bad in ("..%2F..%2Fetc%2Fpasswd", "ABC", "0" * 63 + "g"):
            r = await http.get(f"{intake}/v1/attachments/{bad}", headers=channel)
            assert r.status_code == 404, bad

        theirs = await upload(http, intake, await keys.make(Role.CHANNEL, channel="grid_app"),
                              jpeg(), "theirs.jpg")  # fmt: skip
        body = ELEVATOR | {"external_id": f"w-{secrets.token_hex(4)}",
                           "attachments": [theirs.json()["attachment_id"]]}  # fmt: skip
        named = await http.post(f"{intake}/v1/cases", json=body, headers=channel)
        assert named.status_code == 422 and "不是本方上传" in named.json()["detail"]


async def test_the_same_bytes_uploaded_twice_are_stored_once(
    services: ServiceProcs, keys: Keys
) -> None:
    photo = jpeg()
    one = await keys.make(Role.CHANNEL, channel="wechat")
    two = await keys.make(Role.CHANNEL, channel="grid_app")
    async with httpx.AsyncClient(timeout=15) as http:
        first = await upload(http, services.url("intake"), one, photo, "a.jpg")
        second = await upload(http, services.url("intake"), two, photo, "b.jpg")
        assert first.status_code == second.status_code == 201
        aid = first.json()["attachment_id"]
        assert second.json()["attachment_id"] == aid and second.json()["filename"] == "b.jpg"
        assert first.json().keys() == second.json().keys()  # never says "was there before"
        [stored] = stored_files(services, aid)
        assert stored.read_bytes() == photo
        mine = await http.get(f"{services.url('intake')}/v1/attachments/{aid}", headers=two)
        assert mine.status_code == 200 and "b.jpg" in mine.headers["content-disposition"]


async def test_a_repeat_reports_photo_joins_the_case_it_is_linked_to(
    services: ServiceProcs, keys: Keys
) -> None:
    """The same resident calls again about the same elevator with a new photo: the repeat is
    linked (重复件), and its photo joins the case rather than being dropped."""
    channel = await keys.make(Role.CHANNEL, channel="wechat")
    ops = await keys.make(Role.OPS)
    intake, router = services.url("intake"), services.url("router")
    first = with_petitioner(ELEVATOR) | {"external_id": f"wx-{secrets.token_hex(4)}"}
    async with httpx.AsyncClient(timeout=15) as http:
        case = await http.post(f"{intake}/v1/cases", json=first, headers=channel)
        assert case.status_code == 201, case.text
        case_id = case.json()["case_id"]
        sent = await upload(http, intake, channel, jpeg(), "又停了.jpg")
        photo_id = sent.json()["attachment_id"]
        again = first | {"external_id": f"wx-{secrets.token_hex(4)}", "attachments": [photo_id]}
        repeat = await http.post(f"{intake}/v1/cases", json=again, headers=channel)
        assert repeat.status_code == 201, repeat.text
        assert repeat.json()["duplicate_of"] == case_id

        async def joined() -> list[str] | None:
            r = await http.get(f"{router}/v1/cases/{case_id}", headers=ops)
            ids = [a["attachment_id"] for a in r.json().get("attachments", [])]
            return ids if photo_id in ids else None

        await eventually(joined, timeout=30, what="the repeat's photo on the case")
