"""A receiver that trickles its answer a byte at a time cannot hold a webhook attempt for
longer than the webhook timeout (httpx's own timeouts are per read, so each byte would
reset them)."""

from __future__ import annotations

import asyncio
import time

import httpx

from services.notifier.senders import _post


async def test_an_attempt_to_a_trickling_receiver_ends_within_the_timeout() -> None:
    writers: list[asyncio.StreamWriter] = []

    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        for _ in range(1000):  # a byte every 0.2 s: every read succeeds within its timeout
            writer.write(b"x")
            await writer.drain()
            await asyncio.sleep(0.2)

    server = await asyncio.start_server(trickle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(timeout=1.0) as client:
            started = time.monotonic()
            outcome = await _post(client, f"http://127.0.0.1:{port}/hook", content=b"{}")
            took = time.monotonic() - started
    finally:
        for w in writers:
            w.close()
        server.close()
        await server.wait_closed()
    assert not outcome.ok and outcome.retry
    assert outcome.error is not None and "未答完" in outcome.error
    assert took < 1.5, took
