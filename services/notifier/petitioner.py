"""Messages to petitioners (告知诉求人): SMS or email, contact fetched from intake at send time.

**Decision:** raw contact details never travel through RabbitMQ and are never stored by
the notifier. Events carry only ``petitioner_ref`` (a keyed hash); the delivery row holds
the message text and that reference. At send time the worker asks intake
(``GET /v1/petitioners/{ref}/contact``, with its own ``service`` key
``SHAOBAO_NOTIFIER_INTAKE_KEY``, made with ``shaobao keys create --role service``) and uses the answer for this one send: email through
SMTP when intake has an address, else SMS through the HTTP gateway. Messages to people
respect quiet hours: inside the window a delivery is held (rescheduled to the window's
end without spending an attempt), never dropped.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from services.notifier.deps import NotifierSettings
from services.notifier.senders import Outcome, failed, send_email, send_sms
from shared.domain.calendar import QuietHours

PETITIONER_ENDPOINT = "petitioner"


def quiet_hours(settings: NotifierSettings) -> QuietHours:
    return QuietHours(start=settings.quiet_start, end=settings.quiet_end)


async def send_to_petitioner(
    client: httpx.AsyncClient, settings: NotifierSettings, body: bytes, timeout: float
) -> Outcome:
    message: dict[str, Any] = orjson.loads(body)
    contact = await _contact(client, settings, str(message["petitioner_ref"]))
    if isinstance(contact, Outcome):
        return contact
    if contact.get("email"):
        return await send_email(
            settings, contact["email"], message["subject"], message["message"], timeout
        )
    if contact.get("phone") and settings.sms_gateway_url:
        return await send_sms(
            client, settings.sms_gateway_url, contact["phone"], message["message"]
        )
    return failed("诉求人无可用联系方式 (no usable contact for the petitioner)")


async def _contact(
    client: httpx.AsyncClient, settings: NotifierSettings, ref: str
) -> dict[str, Any] | Outcome:
    if settings.intake_key is None:
        return failed("未配置 SHAOBAO_NOTIFIER_INTAKE_KEY (no intake service key)")
    try:
        resp = await client.get(
            f"{settings.intake_url}/v1/petitioners/{ref}/contact",
            headers={"Authorization": f"Bearer {settings.intake_key.get_secret_value()}"},
        )
    except httpx.HTTPError as exc:
        return failed(f"intake unreachable: {exc!r}"[:300], retry=True)
    if resp.status_code != 200:
        return failed(f"intake contact HTTP {resp.status_code}", retry=resp.status_code >= 500)
    return dict(resp.json())
