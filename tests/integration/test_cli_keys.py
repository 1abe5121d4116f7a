"""``shaobao keys create`` prints a key once and stores only its hash."""

from __future__ import annotations

import subprocess
import sys

import asyncpg
import pytest

from tests.support.services import ROOT
from tests.support.stack import StackUnderTest

pytestmark = pytest.mark.integration


def shaobao(stack: StackUnderTest, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shared.cli.main", *args],
        cwd=ROOT, env=stack.env(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip


async def test_a_created_key_is_printed_once_and_only_its_hash_is_stored(
    stack: StackUnderTest,
) -> None:
    out = shaobao(stack, "keys", "create", "--role", "department", "--owner", "d01-cgw")
    assert out.returncode == 0, out.stderr
    key = out.stdout.strip()
    prefix, secret = key.split("_")[1:]
    conn = await asyncpg.connect(stack.raw_database_url)
    try:
        row = await conn.fetchrow("SELECT * FROM platform.api_keys WHERE prefix = $1", prefix)
        dumped = " ".join(str(v) for v in row.values())
        audit = await conn.fetchval(
            "SELECT count(*) FROM platform.audit_log WHERE action = 'keys.create'"
        )
    finally:
        await conn.close()
    assert row["role"] == "department" and row["owner_id"] == "d01-cgw"
    assert secret not in dumped and secret.encode() not in bytes(row["secret_hash"])
    assert audit >= 1


def test_a_key_whose_scope_does_not_fit_its_role_is_refused(stack: StackUnderTest) -> None:
    out = shaobao(stack, "keys", "create", "--role", "channel", "--channel", "fax_machine")
    assert out.returncode != 0
    assert "channel" in (out.stderr + out.stdout)


def test_the_clock_cannot_move_unless_the_test_clock_is_enabled(stack: StackUnderTest) -> None:
    out = shaobao(stack, "clock", "advance", "3d")
    assert out.returncode == 2
    assert "SHAOBAO_TEST_CLOCK" in out.stderr


async def test_a_key_for_an_owner_not_in_the_directory_is_refused_and_nothing_is_stored(
    stack: StackUnderTest,
) -> None:
    out = shaobao(stack, "keys", "create", "--role", "department", "--owner", "no-such-owner")
    assert out.returncode != 0 and out.stdout == ""
    assert "责任单位 no-such-owner 不在名录" in out.stderr and "unknown owner" in out.stderr
    stored = await stack.fetchval(
        "SELECT count(*) FROM platform.api_keys WHERE owner_id = 'no-such-owner'"
    )
    assert stored == 0


async def test_a_service_key_is_made_for_the_notifier(stack: StackUnderTest) -> None:
    out = shaobao(stack, "keys", "create", "--role", "service", "--label", "notifier")
    assert out.returncode == 0, out.stderr
    prefix = out.stdout.strip().split("_")[1]
    role = await stack.fetchval("SELECT role FROM platform.api_keys WHERE prefix = $1", prefix)
    assert role == "service"
