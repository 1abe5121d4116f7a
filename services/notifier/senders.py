"""Adapters that carry one delivery out: signed webhook, email (SMTP), SMS (HTTP gateway).

Each returns an :class:`Outcome`; ``retry`` marks what is worth trying again (5xx, 429,
network and SMTP connection errors) and what counts against the endpoint's breaker.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import httpx
import orjson

from services.notifier.deps import NotifierSettings
from shared.security.pii import mask_phone
from shared.security.signing import DELIVERY_HEADER, signed_headers
from shared.security.urls import Resolver, credentials_refusal, resolve_checked, system_resolver

_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Outcome:
    ok: bool
    retry: bool
    status_code: int | None
    error: str | None
    duration_ms: int


async def post_webhook(
    client: httpx.AsyncClient,
    url: str,
    secret: str,
    body: bytes,
    delivery_id: str,
    *,
    allowed: list[str],
    resolve: Resolver = system_resolver,
) -> Outcome:
    """Sign and post, to the address checked right now (see ``shared.security.urls``).

    The host is resolved and every address checked before each attempt; the request then
    goes to that address with the original ``Host`` and TLS server name, so a second DNS
    answer cannot redirect it. A refusal is an attempt that failed with its reason (also a
    stored URL with credentials in it, from before they were refused)."""
    refusal = credentials_refusal(url)
    if refusal:
        return failed(refusal)
    target = httpx.URL(url)
    checked = await resolve_checked(
        target.host, target.port or _PORTS[target.scheme], allowed, resolve
    )
    if checked.address is None:
        return failed(checked.refusal or "拒绝发送 (refused)", retry=checked.retry)
    headers = signed_headers(secret, int(time.time()), body)
    headers[DELIVERY_HEADER] = delivery_id
    headers["Host"] = target.netloc.decode("ascii")
    pinned = target.copy_with(host=checked.address)
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    return await _post(client, str(pinned), content=body, headers=headers, extensions=extensions)


async def send_sms(client: httpx.AsyncClient, gateway: str, phone: str, text: str) -> Outcome:
    if gateway.startswith("file://"):
        return await asyncio.to_thread(
            _sms_to_file, Path(gateway.removeprefix("file://")), phone, text
        )
    return await _post(client, gateway, json={"to": phone, "text": text})


def _sms_to_file(path: Path, phone: str, text: str) -> Outcome:
    """The local stack's stand-in for an SMS gateway (``file:///…/sms-outbox.jsonl``, set by
    deploy/up.sh): one JSON line per message, the phone masked, so a developer reads what a
    resident would get without a real gateway. Never for production."""
    started = time.perf_counter()
    line = {"at": datetime.now(UTC).isoformat(), "to": mask_phone(phone), "text": text}
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)  # links rate cases
        with os.fdopen(fd, "ab") as sink:
            sink.write(orjson.dumps(line) + b"\n")
    except OSError as exc:
        return Outcome(False, True, None, repr(exc)[:300], _ms(started))
    return Outcome(True, False, 200, None, _ms(started))


async def send_email(
    settings: NotifierSettings, to: str, subject: str, text: str, timeout: float
) -> Outcome:
    msg = EmailMessage()
    msg["From"] = settings.smtp_from
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(text)
    started = time.perf_counter()
    try:
        await aiosmtplib.send(
            msg, hostname=settings.smtp_host, port=settings.smtp_port, timeout=timeout
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        return Outcome(False, False, None, _smtp_error(exc), _ms(started))
    except aiosmtplib.SMTPException as exc:
        return Outcome(False, True, None, _smtp_error(exc), _ms(started))
    except OSError as exc:
        return Outcome(False, True, None, repr(exc)[:300], _ms(started))
    return Outcome(True, False, 250, None, _ms(started))


def _smtp_error(exc: aiosmtplib.SMTPException) -> str:
    """The kind and code of an SMTP refusal, never its text: servers echo the recipient."""
    codes = [r.code for r in getattr(exc, "recipients", [])] or [getattr(exc, "code", None)]
    shown = ",".join(str(c) for c in codes if c is not None)
    return f"邮件服务器拒绝 (SMTP {type(exc).__name__} {shown})".replace(" )", ")")


def failed(error: str, *, retry: bool = False) -> Outcome:
    return Outcome(False, retry, None, error, 0)


async def _post(client: httpx.AsyncClient, url: str, **kwargs: object) -> Outcome:
    """One POST, over within the client's read timeout in all (httpx's timeouts are per
    phase: a receiver that trickles a byte at a time would otherwise hold it for ever)."""
    started = time.perf_counter()
    budget = client.timeout.read
    try:
        async with asyncio.timeout(budget):
            resp = await client.post(url, **kwargs)  # type: ignore[arg-type]
    except httpx.HTTPError as exc:
        return Outcome(False, True, None, repr(exc)[:300], _ms(started))
    except TimeoutError:
        secs = f"{budget or 0:g}"
        error = f"接收方 {secs} 秒内未答完 (no complete answer within {secs}s)"
        return Outcome(False, True, None, error, _ms(started))
    code = resp.status_code
    if 200 <= code < 300:
        return Outcome(True, False, code, None, _ms(started))
    return Outcome(False, code >= 500 or code == 429, code, f"HTTP {code}", _ms(started))


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
