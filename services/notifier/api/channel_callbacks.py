"""Channel callbacks: a channel (e.g. the 12345 platform) registers where it hears its
cases' status changes (``case.dispatched``, ``dispatch.acknowledged``, ``case.resolved``,
``case.closed``), signed like webhooks, so nobody copies status between platforms.

Stored as an endpoint named ``channel:<channel>``, so the worker, retries and breaker
are the same as for owners.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request

from services.notifier.api.endpoints import (
    EndpointRead,
    EndpointWrite,
    check_channel,
    check_host,
    save_endpoint,
)
from services.notifier.handlers.common import channel_owner
from shared.auth.dependency import require
from shared.auth.keys import ApiKey, Role
from shared.web.fields import WORD
from shared.web.problems import BODY, KEYED, NOT_FOUND

router = APIRouter(prefix="/v1", tags=["channel callbacks"], responses=KEYED | BODY | NOT_FOUND)
ChannelKey = Annotated[ApiKey, require(Role.CHANNEL)]


@router.put(
    "/channel-callbacks/{channel}",
    response_model=EndpointRead,
    summary="登记渠道回调地址 (register a channel's status callback)",
)
async def put_channel_callback(
    channel: Annotated[str, Path(max_length=32, pattern=WORD)],
    body: EndpointWrite,
    key: ChannelKey,
    request: Request,
) -> EndpointRead:
    if key.role is not Role.ADMIN and key.channel != channel:
        raise HTTPException(403, "只能登记本渠道的回调地址 (own channel only)")
    check_channel(channel)
    await check_host(request, body)
    return await save_endpoint(request, channel_owner(channel), body)
