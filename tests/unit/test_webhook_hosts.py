"""Webhook hosts: link-local and metadata addresses are refused unless named; the
operator's allow-list decides the rest."""

from __future__ import annotations

import pytest

from shared.security.urls import host_refusal


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
    assert host_refusal("127.0.0.1", ["*"]) is None
    assert host_refusal(None, ["*"]) is not None
