"""The demo behind ``shaobao demo``: one elevator complaint, followed end to end.

It makes its own keys (channel, admin, department), registers a local webhook receiver
for every owner, posts a case as the 12345 hotline, and prints each step as it happens.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shared.auth.keys import Role
from shared.cli.keys_cmd import make_key
from shared.domain.display import beijing
from shared.security.signing import verify
from shared.settings import Settings

RECEIVER_PORT = 8010
ACTION_CN = {
    "received": "受理",
    "triaged": "分类",
    "dispatched": "派单",
    "delivered": "送达",
    "acknowledged": "签收",
    "disputed": "争议",
    "resolved": "办结",
    "resolve": "结果",
    "request_feedback": "待评",
}


class Receiver:
    """A department's webhook receiver that checks every signature."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.received: list[dict[str, Any]] = []

    async def handle(self, request: Request) -> JSONResponse:
        body = await request.body()
        if not verify(self.secret, dict(request.headers), body, time.time()):
            return JSONResponse({"detail": "bad signature"}, status_code=401)
        self.received.append(await request.json())
        return JSONResponse({"ok": True})

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/hook", self.handle, methods=["POST"])])


async def run_demo(*, intake: str, router: str, notifier: str) -> int:
    settings = Settings()
    receiver = Receiver(secrets.token_urlsafe(24))
    server = uvicorn.Server(
        uvicorn.Config(receiver.app(), host="127.0.0.1", port=RECEIVER_PORT, log_level="warning")
    )
    serve = asyncio.create_task(server.serve())
    try:
        return await _walk(settings, receiver, intake=intake, router=router, notifier=notifier)
    finally:
        server.should_exit = True
        await serve


async def _walk(
    settings: Settings, receiver: Receiver, *, intake: str, router: str, notifier: str
) -> int:
    channel_key = await make_key(settings, Role.CHANNEL, channel="hotline_12345", label="demo")
    admin_key = await make_key(settings, Role.ADMIN, label="demo")
    async with httpx.AsyncClient(timeout=10) as http:
        admin = {"Authorization": f"Bearer {admin_key}"}
        owners = (await http.get(f"{router}/v1/owners", headers=admin)).raise_for_status().json()
        for o in owners:
            r = await http.put(
                f"{notifier}/v1/endpoints/{o['id']}",
                headers=admin,
                json={"url": f"http://127.0.0.1:{RECEIVER_PORT}/hook", "secret": receiver.secret},
            )
            if r.status_code != 200:
                raise SystemExit(_REFUSED.format(answer=r.text[:300], port=RECEIVER_PORT))
        print(
            f"① 已为 {len(owners)} 个责任单位登记本地接收地址 (webhook receiver on :{RECEIVER_PORT})"
        )
        case = {
            "external_id": f"12345-DEMO-{secrets.token_hex(3)}",
            "category": "property.elevator",
            "title": "3号楼电梯停运两天，老人无法下楼",
            "description": "幸福里小区3号楼电梯自周一起停运，物业称配件需从外省调货。",
            "location": DEMO_LOCATION,
            "address": "幸福里小区3号楼2单元",
            "urgency": "urgent",
            # a new caller each run: a second run must not be linked to the first as a repeat
            "petitioner": {"name": "王女士", "phone": f"138{secrets.randbelow(10**8):08d}"},
        }
        resp = await http.post(
            f"{intake}/v1/cases", json=case, headers={"Authorization": f"Bearer {channel_key}"}
        )
        resp.raise_for_status()
        case_id, number = resp.json()["case_id"], resp.json()["case_number"]
        print(f"② 12345 热线提交诉求，诉求编号 {number}（热线工单号 {case['external_id']}）")
        view = await _wait_case(http, router, case_id, admin, lambda c: c["dispatches"])
        names = {o["id"]: o["name"] for o in owners}
        for d in view["dispatches"]:
            print(
                f"③ 已派单 → {names.get(d['owner_id'], d['owner_id'])}"
                f"（{'主办' if d['role'] == 'lead' else '协办'}），"
                f"签收时限 {_local(d['acknowledge_due_at'])}，办结时限 {_local(d['resolve_due_at'])}"
            )
        await _wait(lambda: any(r.get("case_id") == case_id for r in receiver.received), "webhook")
        print("④ 责任单位的接收地址已收到签名派单（签名校验通过）")
        lead = next(d for d in view["dispatches"] if d["role"] == "lead")
        dept_key = await make_key(settings, Role.DEPARTMENT, owner=lead["owner_id"], label="demo")
        ack = await http.post(
            f"{router}/v1/dispatches/{lead['dispatch_id']}/acknowledge",
            headers={"Authorization": f"Bearer {dept_key}"},
        )
        ack.raise_for_status()
        print(f"⑤ {names.get(lead['owner_id'], lead['owner_id'])} 已签收")
        if os.environ.get("SHAOBAO_NOTIFIER_SMS_GATEWAY_URL", "").startswith("file://"):
            await _resolve_all(http, router, settings, view["dispatches"], lead["dispatch_id"])
            print("⑥ 维保单位与物业先后办结：已更换主板，电梯恢复运行")
            view = await _wait_case(
                http, router, case_id, admin, lambda c: c["state"] == "awaiting_feedback"
            )
            print(await _sms_to_resident(number))
        else:  # a real gateway: the demo's made-up caller must never get a text
            print("⑥ 短信网关不是本地文件：演示到签收为止，不办结（不向演示号码发短信）")
            view = await _wait_case(
                http, router, case_id, admin,
                lambda c: {"delivered", "acknowledged"} <= {t["action"] for t in c["timeline"]},
            )  # fmt: skip
        print("\n全程记录 (timeline):")
        for t in view["timeline"]:
            print(
                f"  {_local(t['at'])}  {ACTION_CN.get(t['action'], t['action']):<4} "
                f"{t['actor']:<28} {t['reason'] or ''}"
            )
        await _free_text(http, intake, router, channel_key, admin, names)
    print(_NEXT_STEPS.format(router=router, case_id=case_id, intake=intake))
    return 0


DEMO_LOCATION = {
    "district": "d01",
    "street": "s01",
    "community": "c01",
    "grid": "g01",
    "compound": "k01",
}

_REFUSED = """通知服务拒绝了演示的本地接收地址 (the notifier refused the demo receiver): {answer}
通知服务默认不向本机和内网地址发送；演示时启动通知服务前请设置
SHAOBAO_NOTIFIER_WEBHOOK_ALLOWED_HOSTS='["*", "127.0.0.1:{port}"]'（deploy/up.sh 会设置）"""

_NEXT_STEPS = """
下一步 (next steps):
  API 文档:  http://127.0.0.1:8001/docs  {router}/docs  http://127.0.0.1:8003/docs  http://127.0.0.1:8004/docs
  诉求记录:  curl -H "Authorization: Bearer <ops key>" {router}/v1/cases/{case_id}
  诉求状态:  curl -H "Authorization: Bearer <12345 channel key>" {intake}/v1/cases/{case_id}
  新建密钥:  eval "$(bash deploy/stack.sh env)" && uv run shaobao keys create --role ops
  运行概况:  eval "$(bash deploy/stack.sh env)" && uv run shaobao status
  RabbitMQ:  http://127.0.0.1:55673  (shaobao / shaobao)
  停止系统:  bash deploy/down.sh
"""


FREE_TEXT = [
    ("楼下饭馆油烟太大", "市民来电反映：楼下饭馆油烟直排，熏得没法开窗。", "幸福里小区5号楼3单元"),
    ("反映问题", "有件事想反映一下，请回电。", "锦绣花园2号楼"),
]


async def _free_text(
    http: httpx.AsyncClient,
    intake: str,
    router: str,
    channel_key: str,
    admin: dict[str, str],
    names: dict[str, str],
) -> None:
    """Two 12345 orders as the hotline types them (text and an address, no codes): one the
    model is sure of routes by itself; the other waits for a dispatcher."""
    print("\n自由文本工单 (free-text orders, no category or location codes):")
    for title, text, address in FREE_TEXT:
        body = {"external_id": f"12345-DEMO-{secrets.token_hex(3)}", "title": title,
                "description": text, "address": address}  # fmt: skip
        resp = await http.post(
            f"{intake}/v1/cases", json=body, headers={"Authorization": f"Bearer {channel_key}"}
        )
        resp.raise_for_status()
        case_id = resp.json()["case_id"]
        view = await _wait_case(
            http, router, case_id, admin, lambda c: c["state"] in ("dispatched", "awaiting_triage")
        )
        if view["state"] == "dispatched":
            why = next(t["reason"] for t in view["timeline"] if t["action"] == "triaged")
            to = "、".join(names.get(d["owner_id"], d["owner_id"]) for d in view["dispatches"])
            print(f"⑧ 「{title}」（{address}）→ 自动派单给 {to}\n   依据：{why}")
        else:
            why = next(t["reason"] for t in view["timeline"] if t["action"] == "hold")
            print(f"⑨ 「{title}」（{address}）→ 待派单：{why}")
            print("   派单员查看: GET /v1/triage；判定: POST /v1/triage/{case_id}")


async def _resolve_all(
    http: httpx.AsyncClient, router: str, settings: Settings, dispatches: Any, lead_id: str
) -> None:
    """Each co-handler acknowledges and resolves, then the lead (already acknowledged)."""
    for d in sorted(dispatches, key=lambda d: d["dispatch_id"] == lead_id):
        key = await make_key(settings, Role.DEPARTMENT, owner=d["owner_id"], label="demo")
        auth = {"Authorization": f"Bearer {key}"}
        base = f"{router}/v1/dispatches/{d['dispatch_id']}"
        if d["dispatch_id"] != lead_id:
            (await http.post(f"{base}/acknowledge", headers=auth)).raise_for_status()
        done = {"outcome": "resolved", "summary": "已更换主板，电梯恢复运行，经复检合格"}
        (await http.post(f"{base}/resolve", json=done, headers=auth)).raise_for_status()


async def _sms_to_resident(number: str) -> str:
    """What became of the resident's SMS: its text from the local SMS file (deploy/up.sh),
    or why there is none yet (no file gateway; the quiet hours hold it)."""
    gateway = os.environ.get("SHAOBAO_NOTIFIER_SMS_GATEWAY_URL", "")
    if not gateway.startswith("file://"):
        return "⑦ 未配置本地短信文件（SHAOBAO_NOTIFIER_SMS_GATEWAY_URL），短信未发出"
    path = Path(gateway.removeprefix("file://"))

    def sent() -> str | None:
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        return next((json.loads(x)["text"] for x in lines if number in x), None)

    deadline = time.monotonic() + 10
    while (text := sent()) is None and time.monotonic() < deadline:
        await asyncio.sleep(0.3)
    if text is None:
        return f"⑦ 给居民的短信已排队：免打扰时段（21:00–08:00）结束后发送，见 {path}"
    return f"⑦ 居民收到短信（{path}）：{text}"


def _local(iso: str) -> str:
    """An API's ISO time as people read it: Beijing time, to the minute."""
    return beijing(datetime.fromisoformat(iso))


async def _wait_case(
    http: httpx.AsyncClient, router: str, case_id: str, headers: dict[str, str], ok: Any
) -> Any:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        resp = await http.get(f"{router}/v1/cases/{case_id}", headers=headers)
        if resp.status_code == 200 and ok(resp.json()):
            return resp.json()
        await asyncio.sleep(0.2)
    raise SystemExit(f"等待超时：诉求 {case_id} 未按预期推进 (timed out)")


async def _wait(check: Any, what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(0.1)
    raise SystemExit(f"等待超时：{what}")
