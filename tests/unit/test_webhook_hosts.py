"""Webhook hosts: internal addresses (loopback, private, link-local, metadata, unspecified,
multicast) are refused unless named, a wildcard never admits one, and a URL with
credentials is refused; the operator's allow-list decides the rest, when an endpoint is
registered and again right before each delivery, on every address the host resolves to
(DNS rebinding). What a failed send records names no recipient."""

from __future__ import annotations

import socket
import time

import aiosmtplib
import httpx
import pytest

from services.notifier.senders import _smtp_error, post_webhook
from shared.security.signing import verify
from shared.security.urls import (
    Checked,
    Resolver,
    credentials_refusal,
    host_refusal,
    length_refusal,
    resolve_checked,
)


@pytest.mark.parametrize(
    "host", ["169.254.169.254", "169.254.10.1", "fe80::1", "metadata.google.internal"]
)
def test_link_local_and_metadata_hosts_are_refused_even_with_a_wildcard(host: str) -> None:
    assert host_refusal(host, ["*"]) is not None


def test_an_operator_may_name_a_link_local_host_explicitly() -> None:
    assert host_refusal("169.254.10.1", ["169.254.10.1"]) is None


def test_the_allow_list_decides_other_hosts() -> None:
    allowed = ["hooks.example.org", "*.gov.example"]
    assert host_refusal("hooks.example.org", allowed) is None
    assert host_refusal("a.b.gov.example", allowed) is None
    assert host_refusal("evil.example.com", allowed) is not None
    assert host_refusal("93.184.216.34", ["*"]) is None
    assert host_refusal(None, ["*"]) is not None


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("127.0.0.1", "本机回环"),
        ("::1", "本机回环"),
        ("10.0.0.5", "内网"),
        ("192.168.1.1", "内网"),
        ("172.16.0.1", "内网"),
        ("100.64.0.1", "内网"),  # carrier-grade NAT: not public either
        ("fc00::1", "内网"),
        ("0.0.0.0", "未指定"),
        ("224.0.0.1", "组播"),
        ("ff02::1", "组播"),
        ("::ffff:127.0.0.1", "本机回环"),
        # IPv6 forms that reach an IPv4 address are judged by that address
        ("64:ff9b::a9fe:a9fe", "链路本地"),  # NAT64 → 169.254.169.254
        ("2002:a9fe:a9fe::1", "链路本地"),  # 6to4 → 169.254.169.254
        ("::127.0.0.1", "本机回环"),  # the old compatible form
        ("2002:0a00:0005::1", "内网"),  # 6to4 → 10.0.0.5
        ("fec0::1", "内网"),  # site-local
    ],
)
def test_internal_addresses_are_refused_by_default_and_by_a_wildcard(host: str, kind: str) -> None:
    for allowed in (["*"], ["*.example.org"]):
        refusal = host_refusal(host, allowed)
        assert refusal is not None and refusal.startswith(f"不允许{kind}")


def test_an_internal_address_is_admitted_only_when_named_and_then_on_its_port_if_given() -> None:
    assert host_refusal("127.0.0.1", ["127.0.0.1"], 55432) is None
    assert host_refusal("127.0.0.1", ["*", "127.0.0.1:8010"], 8010) is None
    refused = host_refusal("127.0.0.1", ["*", "127.0.0.1:8010"], 55432)
    assert refused is not None and "loopback" in refused
    assert host_refusal("::1", ["[::1]:8010"], 8010) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://shaobao:shaobao@127.0.0.1:55673/api/queues",
        "https://user@hooks.example.org/in",
        "https://:secret@hooks.example.org/in",
    ],
)
def test_a_url_with_credentials_is_refused(url: str) -> None:
    refusal = credentials_refusal(url)
    assert refusal is not None and refusal.startswith("地址不能包含用户名或密码")
    assert credentials_refusal("https://hooks.example.org/in?user=a") is None


def test_a_url_longer_than_2048_characters_is_refused() -> None:
    assert length_refusal("https://hooks.example.org/" + "a" * 2000) is None
    refusal = length_refusal("https://hooks.example.org/" + "a" * 20_000)
    assert refusal is not None and "2048" in refusal


# --- at send time: resolve, check every address, connect to the checked one ---------------


def resolver(*addresses: str, fails: bool = False) -> Resolver:
    async def resolve(host: str, port: int) -> list[str]:
        if fails:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(addresses)

    return resolve


@pytest.mark.parametrize(
    "answer",
    [
        ["169.254.169.254"],
        ["10.0.0.5", "169.254.169.254"],  # every address counts, not the first
        ["::ffff:169.254.169.254"],  # an IPv4-mapped IPv6 metadata address
        ["fe80::1"],
        ["fd00:ec2::254"],
        ["0.0.0.0"],
        ["127.0.0.1"],  # a public name that now points inside the machine
        ["93.184.216.34", "10.0.0.5"],
        ["::1"],
    ],
)
async def test_a_host_that_now_resolves_to_a_forbidden_address_is_refused(
    answer: list[str],
) -> None:
    checked = await resolve_checked("hooks.example.org", 443, ["*"], resolver(*answer))
    assert checked.address is None and not checked.retry
    assert checked.refusal is not None and checked.refusal.startswith("主机 hooks.example.org")
    assert "DNS rebinding" in checked.refusal


async def test_a_host_that_resolves_to_public_addresses_passes_with_the_first() -> None:
    answer = resolver("93.184.216.34", "2606:2800:220:1::1")
    checked = await resolve_checked("hooks.example.org", 443, ["*"], answer)
    assert checked == Checked("93.184.216.34")


async def test_a_named_local_receiver_is_admitted_on_its_port_only() -> None:
    allowed = ["*", "localhost:8010"]
    ok = await resolve_checked("localhost", 8010, allowed, resolver("127.0.0.1", "::1"))
    other_port = await resolve_checked("localhost", 55432, allowed, resolver("127.0.0.1"))
    assert ok.address == "127.0.0.1"
    assert other_port.address is None and "loopback" in (other_port.refusal or "")


async def test_the_operator_may_allow_a_link_local_target_by_its_name_or_address() -> None:
    by_name = await resolve_checked("hooks.lan", 80, ["hooks.lan"], resolver("169.254.7.7"))
    by_address = await resolve_checked(
        "hooks.lan", 80, ["*", "169.254.7.7"], resolver("169.254.7.7")
    )
    by_wildcard = await resolve_checked("a.hooks.lan", 80, ["*.hooks.lan"], resolver("169.254.7.7"))
    assert by_name.address == by_address.address == "169.254.7.7"
    assert by_wildcard.address is None, "a wildcard never admits a link-local address"


async def test_the_allow_list_is_applied_again_at_send_time() -> None:
    checked = await resolve_checked(
        "old.example.org", 443, ["new.example.org"], resolver("93.184.216.34")
    )
    assert checked.address is None and checked.refusal is not None
    assert "允许列表" in checked.refusal


async def test_a_failed_lookup_is_worth_retrying() -> None:
    checked = await resolve_checked("gone.example.org", 443, ["*"], resolver(fails=True))
    assert checked.address is None and checked.retry
    assert checked.refusal is not None and checked.refusal.startswith("无法解析主机")


async def test_the_webhook_goes_to_the_checked_address_with_the_original_host() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        outcome = await post_webhook(
            client, "https://hooks.example.org:8443/in?x=1", "s" * 20, b"{}", "d-1",
            allowed=["hooks.example.org"], resolve=resolver("10.9.8.7"),
        )  # fmt: skip
    assert outcome.ok
    (request,) = seen
    assert request.url.host == "10.9.8.7" and request.url.port == 8443
    assert request.url.raw_path == b"/in?x=1"
    assert request.headers["host"] == "hooks.example.org:8443"
    assert request.extensions["sni_hostname"] == "hooks.example.org"
    assert verify("s" * 20, dict(request.headers), b"{}", time.time())


async def test_a_refused_webhook_is_a_failed_attempt_with_its_reason_and_sends_nothing() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        outcome = await post_webhook(
            client, "http://hooks.example.org/in", "s" * 20, b"{}", "d-1",
            allowed=["*"], resolve=resolver("169.254.169.254"),
        )  # fmt: skip
    assert not outcome.ok and not outcome.retry and seen == []
    assert outcome.error is not None and outcome.error.startswith("主机 hooks.example.org")


async def test_a_stored_url_with_credentials_is_never_sent() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        outcome = await post_webhook(
            client, "http://shaobao:shaobao@mq.example.org/api/queues", "s" * 20, b"{}", "d-1",
            allowed=["*"], resolve=resolver("93.184.216.34"),
        )  # fmt: skip
    assert not outcome.ok and not outcome.retry and seen == []
    assert outcome.error is not None and outcome.error.startswith("地址不能包含用户名或密码")


def test_an_smtp_refusal_is_recorded_without_the_address_the_server_echoed() -> None:
    refused = aiosmtplib.SMTPRecipientsRefused(
        [
            aiosmtplib.SMTPRecipientRefused(
                550, "5.1.1 <li.si@example.org> unknown", "li.si@example.org"
            )
        ]
    )
    recorded = _smtp_error(refused)
    assert recorded.startswith("邮件服务器拒绝") and "550" in recorded
    assert "li.si" not in recorded and "li.si" in repr(refused)
