"""The local stack's SMS stand-in: a file a developer reads, never a resident's raw number."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx

from services.notifier.senders import send_sms


def test_a_text_to_a_file_gateway_is_one_json_line_with_the_phone_masked(tmp_path: Path) -> None:
    sink = tmp_path / "sms-outbox.jsonl"

    async def send(text: str) -> bool:
        async with httpx.AsyncClient() as client:
            return (await send_sms(client, f"file://{sink}", "13912345678", text)).ok

    assert asyncio.run(send("【哨报】您反映的诉求（编号 SB20261207-000001）已解决。"))
    assert asyncio.run(send("第二条"))
    lines = [json.loads(x) for x in sink.read_text(encoding="utf-8").splitlines()]
    assert [x["text"][-4:] for x in lines] == ["已解决。", "第二条"[-4:]]
    assert lines[0]["to"] == "139****5678" and "13912345678" not in sink.read_text()


def test_an_unwritable_file_gateway_is_a_retryable_failure(tmp_path: Path) -> None:
    async def send() -> tuple[bool, bool]:
        async with httpx.AsyncClient() as client:
            out = await send_sms(
                client, f"file://{tmp_path}/missing/dir/x.jsonl", "13912345678", "t"
            )
            return out.ok, out.retry

    assert asyncio.run(send()) == (False, True)
