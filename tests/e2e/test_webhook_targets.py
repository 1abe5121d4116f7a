"""Where a notifier with the default allow-list (``["*"]``: public hosts only) sends.

Loopback, private and credential-bearing URLs are refused with their reason when an
endpoint or a channel callback is registered (422, nothing stored), a stored one is
refused again at send time, and the receiver behind them is never called. Unknown owners
and channels are 404, a URL over 2,048 characters is 422. The notifier runs alone on a
stack of its own, without the loopback allowance the other e2e services get
(tests/support/services.py: TEST_ENV).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
import pytest

from shared.auth.keys import Role
from shared.db.migrate import migrate_all_async
from shared.security.pii import PiiVault
from tests.e2e.conftest import Keys
from tests.support.receiver import WebhookReceiver
from tests.support.services import ServiceProcs
from tests.support.stack import StackUnderTest, create_stack, drop_stack
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e
OWNER = "d01-cgw"


@pytest.fixture(scope="module")
async def w_stack() -> AsyncIterator[StackUnderTest]:
    s = await create_stack("hooks")
    await migrate_all_async(s.database_url)
    yield s
    await drop_stack(s)


@pytest.fixture(scope="module")
async def strict(
    w_stack: StackUnderTest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ServiceProcs]:
    procs = ServiceProcs(
        stack=w_stack,
        log_dir=Path(tmp_path_factory.mktemp("strict-notifier")),
        env_extra={"SHAOBAO_NOTIFIER_WEBHOOK_ALLOWED_HOSTS": '["*"]'},  # the default
    )
    procs.start("notifier")
    await procs.wait_ready("notifier")
    yield procs
    procs.stop_all()


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with WebhookReceiver(secrets.token_urlsafe(24)) as r:
        yield r


def targets(receiver: WebhookReceiver) -> list[tuple[str, str]]:
    """Refused URL -> the start of its reason."""
    refused = {
        receiver.url: "不允许本机回环地址 127.0.0.1",
        receiver.url.replace("127.0.0.1", "localhost"): "主机 localhost 解析到本机回环地址",
        "http://127.0.0.1:55432/": "不允许本机回环地址",
        "http://10.0.0.5/hook": "不允许内网或保留地址 10.0.0.5",
        "http://192.168.1.20:8080/hook": "不允许内网或保留地址",
        "http://[::1]:8004/hook": "不允许本机回环地址",
        "http://0.0.0.0:8004/hook": "不允许未指定地址",
        "http://shaobao:shaobao@127.0.0.1:55673/api/overview": "地址不能包含用户名或密码",
        "https://user:pw@hooks.example.org/in": "地址不能包含用户名或密码",
    }
    return list(refused.items())


def reason(r: httpx.Response) -> str:
    body = r.json()
    errors = body.get("errors") or []
    return str(errors[0]["reason"] if errors else body["detail"]).removeprefix("Value error, ")


async def test_internal_and_credential_urls_are_refused_with_the_reason_and_never_called(
    strict: ServiceProcs, w_stack: StackUnderTest, receiver: WebhookReceiver
) -> None:
    keys = Keys(w_stack)
    admin = await keys.make(Role.ADMIN)
    dept = await keys.make(Role.DEPARTMENT, owner=OWNER)
    channel = await keys.make(Role.CHANNEL, channel="wechat")
    base = strict.url("notifier")
    wrong = []
    async with httpx.AsyncClient(timeout=10) as http:
        for url, expected in targets(receiver):
            body = {"url": url, "secret": receiver.secret}
            for path, key in (
                (f"/v1/endpoints/{OWNER}", dept),
                (f"/v1/endpoints/{OWNER}", admin),
                ("/v1/channel-callbacks/wechat", channel),
            ):
                r = await http.put(base + path, json=body, headers=key)
                if r.status_code != 422 or not reason(r).startswith(expected):
                    wrong.append(f"{path} {url}: {r.status_code} {r.text[:200]}")
    assert not wrong, "\n".join(wrong)
    assert await w_stack.fetchval("SELECT count(*) FROM notifier.endpoints") == 0
    assert receiver.accepted == [] and receiver.rejected_signatures == 0


async def test_an_unknown_owner_or_channel_is_404_and_a_long_url_is_422(
    strict: ServiceProcs, w_stack: StackUnderTest
) -> None:
    admin = await Keys(w_stack).make(Role.ADMIN)
    base = strict.url("notifier")
    hook = {"url": "https://hooks.example.org/in", "secret": "s" * 20}
    long_hook = hook | {"url": "https://hooks.example.org/" + "a" * 20_000}
    async with httpx.AsyncClient(timeout=10) as http:
        no_owner = await http.put(f"{base}/v1/endpoints/no-such-owner", json=hook, headers=admin)
        no_channel = await http.put(
            f"{base}/v1/channel-callbacks/fax_machine", json=hook, headers=admin
        )
        too_long = await http.put(f"{base}/v1/endpoints/{OWNER}", json=long_hook, headers=admin)
    assert no_owner.status_code == 404, no_owner.text
    assert no_owner.json()["detail"].startswith("责任单位 no-such-owner 不在名录中")
    assert no_channel.status_code == 404, no_channel.text
    assert no_channel.json()["detail"].startswith("渠道 fax_machine 不存在")
    assert too_long.status_code == 422, too_long.text[:300]
    assert reason(too_long).startswith("地址过长：最多 2048 个字符")
    assert await w_stack.fetchval("SELECT count(*) FROM notifier.endpoints") == 0


async def test_a_stored_loopback_url_is_refused_at_send_time_and_never_called(
    strict: ServiceProcs, w_stack: StackUnderTest, receiver: WebhookReceiver
) -> None:
    """A row from before the default changed (or edited by hand) is not sent either."""
    vault = PiiVault(w_stack.settings().pii_key.get_secret_value())
    owner = "d01-s01-zfd"
    delivery_id, now = uuid.uuid4(), datetime.now(UTC)
    await w_stack.fetch(
        "INSERT INTO notifier.endpoints (owner_id, url, secret_enc) VALUES ($1, $2, $3)",
        owner, receiver.url, vault.seal(receiver.secret),
    )  # fmt: skip
    await w_stack.fetch(
        "INSERT INTO notifier.deliveries (delivery_id, event_id, event_type, owner_id, body,"
        " status, next_attempt_at, created_at) VALUES ($1, $2, 'case.dispatched', $3, $4,"
        " 'pending', $5, $5)",
        delivery_id, uuid.uuid4(), owner, orjson.dumps({"event": "case.dispatched"}), now,
    )  # fmt: skip

    async def failed() -> str | None:
        row = await w_stack.fetch(
            "SELECT status, last_error FROM notifier.deliveries WHERE delivery_id = $1",
            delivery_id,
        )
        return row[0]["last_error"] if row and row[0]["status"] == "failed" else None

    error = await eventually(failed, what="the stored loopback URL refused at send time")
    assert error.startswith("不允许本机回环地址 127.0.0.1")
    assert receiver.accepted == [] and receiver.rejected_signatures == 0
