"""The HTTP protocol every service runs: uvicorn's httptools protocol with deadlines for
slow clients (``uvicorn ... --http shared.web.server:GuardedHttpToolsProtocol``).

httptools is llhttp, Node's C parser; h11 (``GuardedH11Protocol``, the same deadlines
on uvicorn's pure-Python protocol, kept for a machine without httptools) cost about a
fifth of intake's CPU on one case per request (issue 25).

uvicorn has no header-read timeout, and any byte cancels its keep-alive timer: a client
that sends a header line every few seconds (slowloris) holds a connection, and a file
descriptor, for as long as it likes. This protocol gives each request two deadlines that
later bytes do not move:

- the request line and headers must arrive within ``http_header_timeout_seconds`` of the
  connection opening or of the request's first byte;
- the body must arrive within ``http_body_timeout_seconds`` after the headers.

A missed deadline answers 408 (unless the application already answered) and closes the
connection; an application still reading the body hears a disconnect. How long the
application itself takes is not limited here, and an idle keep-alive connection is
closed by uvicorn's own ``--timeout-keep-alive`` (5 s). Both settings are read once per
process from the same ``SHAOBAO_*`` environment as the app.
"""

from __future__ import annotations

import asyncio
import functools
import json
from typing import Any

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from shared.settings import Settings


@functools.cache
def timeouts() -> tuple[float, float]:
    """(header, body) seconds, from this process's settings."""
    settings = Settings()
    return settings.http_header_timeout_seconds, settings.http_body_timeout_seconds


def _timeout_response(what: str) -> bytes:
    body = json.dumps(
        {"detail": f"请求超时：{what}未在时限内收全，连接已关闭 (request timeout)"},
        ensure_ascii=False,
    ).encode()
    head = (
        "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


_TIMED_OUT = {"headers": _timeout_response("请求头"), "body": _timeout_response("请求体")}


class _Deadlines:
    """The header and body deadlines, for a uvicorn protocol (module docstring).

    The protocol says which phase its client is in (``_reading_phase``): "headers" while a
    request's headers are incomplete, "body" while its body is, "" otherwise."""

    header_timeout: float
    body_timeout: float
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    cycle: Any
    logger: Any
    client: Any

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)  # type: ignore[call-arg]
        self._init_deadlines()

    def _init_deadlines(self) -> None:
        self.header_timeout, self.body_timeout = timeouts()
        self._phase = ""
        self._deadline: asyncio.TimerHandle | None = None
        self._heard = False  # bytes came since the deadline was armed

    def _reading_phase(self) -> str:
        raise NotImplementedError

    def _before_data(self) -> None:
        """What the protocol notes before the parser reads new bytes (nothing here)."""

    # The protocol's own callbacks, then the deadline's bookkeeping (the mixin comes first
    # in each protocol's bases, so ``super()`` is uvicorn's protocol).
    def connection_made(self, transport: Any) -> None:  # an asyncio.Transport
        super().connection_made(transport)  # type: ignore[misc]
        self._arm("headers")

    def data_received(self, data: bytes) -> None:
        self._before_data()
        super().data_received(data)  # type: ignore[misc]
        self._follow()
        self._heard = True

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        self._follow(after_response=True)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)  # type: ignore[misc]

    def _follow(self, *, after_response: bool = False) -> None:
        """Arm the deadline of the phase the client is in now (once per phase)."""
        phase = self._reading_phase()
        if phase == "body":
            self._arm("body")
        elif phase == "headers" and not after_response:
            self._arm("headers")  # bytes came and no request is complete yet
        else:
            self._disarm()  # the request is in, or the connection idles (keep-alive's job)

    def _arm(self, phase: str) -> None:
        if self._phase == phase:
            return
        self._disarm()
        self._phase, self._heard = phase, False
        seconds = self.header_timeout if phase == "headers" else self.body_timeout
        self._deadline = self.loop.call_later(seconds, self._expired, phase)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline, self._phase = None, ""

    def _expired(self, phase: str) -> None:
        self._deadline, self._phase = None, ""
        if self.transport.is_closing():
            return
        cycle = self.cycle if phase == "body" else None
        answered = cycle is not None and cycle.response_started
        if cycle is not None:
            cycle.disconnected = True  # the app's receive() hears it; its sends are dropped
            cycle.message_event.set()
        if (phase == "body" or self._heard) and not answered:
            self.transport.write(_TIMED_OUT[phase])
        self.logger.info("slow client cut off after its %s deadline (%s)", phase, self.client)
        self.transport.close()


class GuardedH11Protocol(_Deadlines, H11Protocol):
    """uvicorn's h11 protocol plus the header and body deadlines (module docstring)."""

    def _reading_phase(self) -> str:
        state = self.conn.their_state
        if state is h11.SEND_BODY:
            return "body"
        return "headers" if state is h11.IDLE else ""


class GuardedHttpToolsProtocol(_Deadlines, HttpToolsProtocol):
    """uvicorn's httptools protocol plus the header and body deadlines: the parser's
    callbacks say where the client is (a request begun, its headers in, it whole)."""

    def _init_deadlines(self) -> None:
        super()._init_deadlines()
        self._reading = "headers"  # until a request's headers are in, then "body", then ""

    def _reading_phase(self) -> str:
        return self._reading

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._reading = "headers"

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._reading = "body"

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._reading = ""

    def _before_data(self) -> None:
        idle = self.cycle is None or self.cycle.response_complete
        if not self._reading and idle:  # bytes of the next request: its headers' deadline
            self._reading = "headers"  # (a pipelined one waits for the answer in progress)
