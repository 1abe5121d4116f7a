"""The scope matrix: what every role gets on every route of the four services.

Roles (columns): no key; the channel the cases came from (12345); the department that
holds the dispatch (新华街道综合行政执法队) and one that does not (和平派出所); the
supervisor of the cases' area (新华街道) and one of another area (和平街道); ops; a
service key (the notifier's: a petitioner's contact and nothing else); admin.
Every case here is a broken streetlight at 幸福里小区 (d01.s01), so it is dispatched to
the street's city-management team, which 新华街道 supervises.

Outcomes: ``ok`` a 2xx/3xx answer; ``shown``/``hidden`` a 200 list that does or does not
hold the row the request is about; a number, that status exactly. A refused write never
changes anything (refusals run first on a shared target); an allowed write gets a target
of its own where it would spoil the next row's (a fresh case, dispatch or whistle).

``test_every_route_has_a_row`` enumerates the routes of the four apps (hidden ones too):
a route added without a row here fails it.
"""

from __future__ import annotations

import asyncio
import importlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi.routing import iter_route_contexts

from shared.auth.keys import Role
from tests.e2e.conftest import Keys
from tests.e2e.intake_helpers import HEPINGLI, XINGFU, case, phone, ref_of
from tests.support.receiver import WebhookReceiver
from tests.support.services import SERVICES, ServiceProcs
from tests.support.stack import StackUnderTest
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

ROLES = (
    "anon", "channel", "dept_own", "dept_other", "sup_in", "sup_out", "ops", "service", "admin",
)  # fmt: skip
# Refusals first: a shared target is still untouched when the allowed roles come to it.
RUN_ORDER = (
    "anon", "channel", "dept_other", "sup_out", "ops", "service", "sup_in", "dept_own", "admin",
)  # fmt: skip
CHANNEL = "hotline_12345"
OWN, OTHER = "d01-s01-zfd", "d01-s02-pcs"  # 新华街道综合行政执法队 / 和平派出所
SUP_IN, SUP_OUT = "d01-s01-jd", "d01-s02-jd"  # 新华街道 / 和平街道
CONVENED = [OWN, "d01-s01-pcs"]
Outcome = int | str


# --- what is asked ------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    path: str
    json: Any = None
    params: dict[str, Any] | None = None
    marker: str | None = None  # for shown/hidden: the text of the row asked about
    key_in: str = "header"  # header | query | form (the console signs in with the key)
    content: bytes | None = None  # a raw body (an upload), sent as image/png
    form: dict[str, str] | None = None  # a form body; key_in "api_key" adds the key to it (Open311)


Target = Callable[["World", str], Awaitable[Call]]


@dataclass(frozen=True)
class Row:
    expect: dict[str, Outcome]
    target: Target


def cells(default: Outcome, anon: Outcome = 401, **given: Outcome) -> dict[str, Outcome]:
    return {r: given.get(r, anon if r == "anon" else default) for r in ROLES}


PUBLIC = cells("ok", anon="ok")


def fixed(path: str, **kw: Any) -> Target:
    async def target(w: World, role: str) -> Call:
        return Call(path, **kw)

    return target


# --- the world the requests are about -------------------------------------------------------


@dataclass(frozen=True)
class Case:
    case_id: str
    ref: str
    dispatch_id: str


@dataclass
class World:
    services: ServiceProcs
    keys: Keys
    stack: StackUnderTest
    http: httpx.AsyncClient
    receiver: WebhookReceiver
    raw: dict[str, str] = field(default_factory=dict)
    _once: dict[str, asyncio.Task[Any]] = field(default_factory=dict)

    def url(self, service: str, path: str) -> str:
        return self.services.url(service) + path

    async def make_keys(self) -> None:
        made = {
            "channel": self.keys.make(Role.CHANNEL, channel=CHANNEL),
            "dept_own": self.keys.make(Role.DEPARTMENT, owner=OWN),
            "dept_other": self.keys.make(Role.DEPARTMENT, owner=OTHER),
            "sup_in": self.keys.make(Role.SUPERVISOR, owner=SUP_IN),
            "sup_out": self.keys.make(Role.SUPERVISOR, owner=SUP_OUT),
            "ops": self.keys.make(Role.OPS),
            "service": self.keys.make(Role.SERVICE),
            "admin": self.keys.make(Role.ADMIN),
            "superior": self.keys.make(Role.CHANNEL, channel="superior_transfer"),
            "convened": self.keys.make(Role.DEPARTMENT, owner=CONVENED[1]),
        }
        for role, pending in made.items():
            self.raw[role] = (await pending)["Authorization"].removeprefix("Bearer ")

    def h(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.raw[role]}"} if role in self.raw else {}

    def once(self, name: str, make: Callable[[], Awaitable[Any]]) -> Awaitable[Any]:
        if name not in self._once:
            self._once[name] = asyncio.ensure_future(make())
        return self._once[name]

    async def get_ok(self, service: str, path: str, **params: Any) -> Any:
        r = await self.http.get(self.url(service, path), params=params, headers=self.h("ops"))
        return r.json() if r.status_code == 200 else None

    # each of these makes its thing once per tag and answers the same on later calls

    def case(self, tag: str, channel: str = "channel") -> Awaitable[Case]:
        async def make() -> Case:
            ref = f"matrix-{tag}-{secrets.token_hex(4)}"
            body = case(
                "public.streetlight", f"路灯不亮 {tag} {secrets.token_hex(3)}", XINGFU,
                external_id=ref, petitioner={"name": "周先生", "phone": phone()},
            )  # fmt: skip
            r = await self.http.post(
                self.url("intake", "/v1/cases"), json=body, headers=self.h(channel)
            )
            assert r.status_code == 201 and r.json()["created"], r.text
            case_id = r.json()["case_id"]

            async def dispatched() -> Any:
                found = await self.get_ok("router", f"/v1/cases/{case_id}")
                leads = [d for d in (found or {}).get("dispatches", []) if d["role"] == "lead"]
                return leads[0]["dispatch_id"] if leads else None

            dispatch_id = await eventually(dispatched, what=f"{tag} dispatched")
            assert (await dispatched()) == dispatch_id

            async def known_to_intake() -> bool:
                found = await self.get_ok("intake", f"/v1/cases/{case_id}")
                return OWN in ((found or {}).get("status_detail") or {}).get("owners", [])

            await eventually(known_to_intake, what=f"{tag}'s owner known to intake")
            return Case(case_id, ref, dispatch_id)

        return self.once(f"case:{tag}", make)

    def act(self, tag: str, action: str, body: Any = None) -> Awaitable[Case]:
        async def make() -> Case:
            c = await self.case(tag)
            url = self.url("router", f"/v1/dispatches/{c.dispatch_id}/{action}")
            r = await self.http.post(url, json=body, headers=self.h("dept_own"))
            assert r.status_code == 200, r.text
            return c

        return self.once(f"{action}:{tag}", make)

    def acked(self, tag: str) -> Awaitable[Case]:
        return self.act(tag, "acknowledge")

    def pending_extension(self, tag: str) -> Awaitable[Case]:
        async def make() -> Case:
            await self.acked(tag)
            c = await self.act(tag, "extension", {"working_days": 2, "reason": "需更换灯杆"})
            conn = await asyncpg.connect(self.stack.raw_database_url)
            try:

                async def pending() -> bool:
                    return bool(
                        await conn.fetchval(
                            "SELECT count(*) FROM escalation.extensions "
                            "WHERE dispatch_id = $1 AND state = 'pending'",
                            c.dispatch_id,
                        )
                    )

                await eventually(pending, what=f"{tag}'s extension pending at escalation")
            finally:
                await conn.close()
            return c

        return self.once(f"extension-pending:{tag}", make)

    def resolved(self, tag: str) -> Awaitable[Case]:
        async def make() -> Case:
            await self.acked(tag)
            c = await self.act(tag, "resolve", {"outcome": "resolved", "summary": "已更换灯泡"})

            async def at_intake() -> bool:
                found = await self.get_ok("intake", f"/v1/cases/{c.case_id}")
                return (found or {}).get("status") == "resolved"

            await eventually(at_intake, what=f"{tag} resolved at intake")
            return c

        return self.once(f"resolved:{tag}", make)

    def whistle(self, tag: str) -> Awaitable[str]:
        async def make() -> str:
            c = await self.case(tag)
            body = {"reason": "路灯线路涉及派出所周边施工", "convene": CONVENED}
            r = await self.http.post(
                self.url("router", f"/v1/cases/{c.case_id}/whistle"),
                json=body,
                headers=self.h("sup_in"),
            )
            assert r.status_code == 202, r.text

            async def blown() -> Any:
                rows = await self.get_ok("escalation", "/v1/whistles", case_id=c.case_id)
                return rows[0]["whistle_id"] if rows else None

            return str(await eventually(blown, what=f"{tag}'s whistle blown"))

        return self.once(f"whistle:{tag}", make)

    def key_person(self) -> Awaitable[str]:
        async def make() -> str:
            c = await self.case("key-person", channel="superior")

            async def filed() -> Any:
                files = await self.get_ok("intake", "/v1/key-persons", limit=500)
                return next(
                    (
                        f["petitioner_ref"]
                        for f in files or []
                        if c.case_id in {x["case_id"] for x in f["cases"]}
                    ),
                    None,
                )

            return str(await eventually(filed, what="key person filed"))

        return self.once("key-person", make)

    def person(self, tag: str, channel: str = "channel") -> Awaitable[str]:
        """A petitioner with one case at 幸福里小区 (a key person when ``superior``): its ref."""

        async def make() -> str:
            number = phone()
            body = case(
                "neighbour.dispute", f"邻里纠纷 {tag} {secrets.token_hex(3)}", XINGFU,
                petitioner={"phone": number},
            )  # fmt: skip
            r = await self.http.post(
                self.url("intake", "/v1/cases"), json=body, headers=self.h(channel)
            )
            assert r.status_code == 201, r.text
            return ref_of(self.stack.settings(), phone=number)

        return self.once(f"person:{tag}", make)

    def merged(self, tag: str) -> Awaitable[tuple[str, str]]:
        """Two persons merged into one by admin: (the person, the other ref)."""

        async def make() -> tuple[str, str]:
            a, b = await self.person(f"{tag}-a"), await self.person(f"{tag}-b")
            body = {"refs": [a, b], "reason": "同一人"}
            r = await self.http.post(
                self.url("intake", "/v1/persons/merge"), json=body, headers=self.h("admin")
            )
            assert r.status_code == 200, r.text
            return a, b

        return self.once(f"merged:{tag}", make)

    def converted(self) -> Awaitable[str]:
        """The matrix's key person with a conversion recorded (by admin): its ref."""

        async def make() -> str:
            ref = await self.key_person()
            body = {"role": "council_member", "since": "2026-12-01"}
            r = await self.http.post(
                self.url("intake", f"/v1/key-persons/{ref}/conversions"), json=body,
                headers=self.h("admin"),
            )  # fmt: skip
            assert r.status_code in (200, 201), r.text
            return ref

        return self.once("converted", make)

    def alert(self) -> Awaitable[None]:
        """Three e-bikes charged in one grid of 幸福社区: the grid alert (place d01.s01...)."""

        async def make() -> None:
            for i in range(3):
                body = case(
                    "fire.ebike_charging", f"{i}单元楼道充电 {secrets.token_hex(3)}", XINGFU,
                    petitioner={"phone": phone()},
                )  # fmt: skip
                r = await self.http.post(
                    self.url("intake", "/v1/cases"), json=body, headers=self.h("channel")
                )
                assert r.status_code == 201, r.text

            async def raised() -> bool:
                rows = await self.get_ok("intake", "/v1/alerts", limit=500)
                return any(a["place"].startswith("d01.s01.") for a in rows or [])

            await eventually(raised, what="an alert in 新华街道")

        return self.once("alert", make)

    def delivery(self, tag: str) -> Awaitable[str]:
        async def make() -> str:
            c = await self.case(tag)

            async def made() -> Any:
                rows = await self.get_ok("notifier", "/v1/deliveries", case_id=c.case_id)
                undelivered = [d for d in rows or [] if d["status"] != "delivered"]
                return undelivered[0]["delivery_id"] if undelivered else None

            return str(await eventually(made, what=f"{tag}'s delivery row"))

        return self.once(f"delivery:{tag}", make)

    async def prepare(self) -> None:
        """Make everything the rows need, concurrently."""
        await asyncio.gather(
            *(self.case(t) for t in ("shared", "ack-own", "ack-admin", "return-own")),
            *(self.case(t) for t in ("return-admin", "blow-sup", "blow-admin")),
            *(self.acked(t) for t in ("progress-admin", "extension-admin")),
            *(self.acked(t) for t in ("resolve-own", "resolve-admin")),
            *(self.pending_extension(t) for t in ("decide-sup", "decide-admin")),
            *(self.resolved(t) for t in ("rate-channel", "rate-admin", "visit-sup", "visit-admin")),
            self.pending_extension("list-ext"),
            *(self.whistle(t) for t in ("whistle-shared", "lead-sup", "lead-admin")),
            self.key_person(),
            self.alert(),
            self.delivery("shared"),
        )
        shared = await self.case("shared")

        async def clocks() -> Any:
            return await self.get_ok("escalation", "/v1/deadlines", case_id=shared.case_id)

        await eventually(clocks, what="the shared case's clocks armed")


# --- targets --------------------------------------------------------------------------------


def on_case(path: str, **kw: Any) -> Target:
    async def target(w: World, role: str) -> Call:
        c = await w.case("shared")
        return Call(path.format(case_id=c.case_id, ref=c.ref), marker=c.case_id, **kw)

    return target


def dispatch_action(action: str, body: Any, own: Callable[[World], Awaitable[Case]]) -> Target:
    """Refused roles try the shared case's dispatch; the owner acts on ``own``, admin on
    a case of its own."""

    async def target(w: World, role: str) -> Call:
        if role == "dept_own":
            c = await own(w)
        elif role == "admin":
            c = await {
                "acknowledge": w.case("ack-admin"),
                "progress": w.acked("progress-admin"),
                "extension": w.acked("extension-admin"),
                "resolve": w.acked("resolve-admin"),
                "return": w.case("return-admin"),
            }[action]
        else:
            c = await w.case("shared")
        return Call(f"/v1/dispatches/{c.dispatch_id}/{action}", json=body)

    return target


async def feedback(w: World, role: str) -> Call:
    c = await (w.resolved(f"rate-{role}") if role in ("channel", "admin") else w.case("shared"))
    return Call(f"/v1/cases/{c.case_id}/feedback", json={"rating": "satisfied"})


async def petitioner(w: World, role: str) -> Call:
    c = await w.case("shared")
    return Call(f"/v1/cases/{c.case_id}/petitioner", params={"reveal": "true"})


async def contact(w: World, role: str) -> Call:
    return Call(f"/v1/petitioners/{await w.key_person()}/contact")


async def correct_contact(w: World, role: str) -> Call:
    return Call(f"/v1/petitioners/{await w.key_person()}/contact", json={"name": "周先生"})


async def key_persons(w: World, role: str) -> Call:
    return Call("/v1/key-persons", params={"limit": 500}, marker=await w.key_person())


async def key_person(w: World, role: str) -> Call:
    return Call(f"/v1/key-persons/{await w.key_person()}")


def own_target(role: str, tag: str) -> str:
    """sup_in and admin act on a target of their own; refused roles try sup_in's."""
    return f"{tag}-admin" if role == "admin" else f"{tag}-sup"


async def enter_key_person(w: World, role: str) -> Call:
    ref = await w.person(own_target(role, "enter"))
    return Call("/v1/key-persons", json={"petitioner_ref": ref, "reason": "情绪较激动"})


def on_key_person(suffix: str, body: Any) -> Target:
    async def target(w: World, role: str) -> Call:
        return Call(f"/v1/key-persons/{await w.key_person()}{suffix}", json=body)

    return target


async def leave_key_person(w: World, role: str) -> Call:
    ref = await w.person(own_target(role, "leave"), channel="superior")
    return Call(f"/v1/key-persons/{ref}/leave", json={"reason": "诉求已解决"})


async def conversions(w: World, role: str) -> Call:
    return Call("/v1/key-person-conversions", marker=await w.converted())


async def get_person(w: World, role: str) -> Call:
    return Call(f"/v1/persons/{await w.key_person()}")


async def merge_persons(w: World, role: str) -> Call:
    tag = own_target(role, "merge")
    refs = [await w.person(f"{tag}-a"), await w.person(f"{tag}-b")]
    return Call("/v1/persons/merge", json={"refs": refs, "reason": "同一人换号"})


async def split_person(w: World, role: str) -> Call:
    person, other = await w.merged(own_target(role, "split"))
    return Call(f"/v1/persons/{person}/split", json={"refs": [other], "reason": "核实为两人"})


PLAN = {
    "matter": "路灯长期不亮反复信访", "measures": ["协调供电公司"],
    "team": {"cadre": "李明", "grid_worker": "王芳", "volunteer": "赵强"},
    "review_on": "2027-03-01",
}  # fmt: skip
VISIT = {
    "kind": "holiday_greeting", "visited_at": "2026-12-31T10:00:00+08:00",
    "visitors": ["李明"], "method": "上门", "outcome": "情绪稳定",
}  # fmt: skip
STAFF_WRITE = cells(403, sup_in="ok", sup_out=404, admin="ok")


async def alerts(w: World, role: str) -> Call:
    await w.alert()
    return Call("/v1/alerts", params={"limit": 500}, marker='"place":"d01.s01.')


def alert_mark(action: str) -> Target:
    async def target(w: World, role: str) -> Call:
        await w.alert()
        rows = await w.get_ok("intake", "/v1/alerts", limit=500) or []
        alert_id = next(a["alert_id"] for a in rows if a["place"].startswith("d01.s01."))
        body = {"note": "已安排物业排查"} if action == "handled" else None
        return Call(f"/v1/alerts/{alert_id}/{action}", json=body)

    return target


async def blow(w: World, role: str) -> Call:
    c = await w.case({"sup_in": "blow-sup", "admin": "blow-admin"}.get(role, "shared"))
    body = {"reason": "需多部门到场", "convene": CONVENED}
    return Call(f"/v1/cases/{c.case_id}/whistle", json=body)


async def triage_pick(w: World, role: str) -> Call:
    """A pick on a case that is not in the queue: 409 for whoever may pick."""
    c = await w.case("shared")
    body = {"category": "public.streetlight", "place": "d01.s01.c01.g01.k01"}
    return Call(f"/v1/triage/{c.case_id}", json=body)


async def reclassify(w: World, role: str) -> Call:
    c = await w.case({"sup_in": "reclass-sup", "admin": "reclass-admin"}.get(role, "shared"))
    body = {"category": "property.repair", "reason": "实为公共部位维修"}
    return Call(f"/v1/cases/{c.case_id}/reclassify", json=body)


async def own_dispatches(w: World, role: str) -> Call:
    c = await w.case("shared")
    return Call("/v1/dispatches", params={"limit": 500}, marker=c.dispatch_id)


async def case_list(w: World, role: str) -> Call:
    c = await w.case("shared")
    return Call("/v1/cases", params={"q": c.ref}, marker=c.case_id)


async def deadlines(w: World, role: str) -> Call:
    c = await w.case("shared")
    return Call("/v1/deadlines", params={"case_id": c.case_id}, marker=c.dispatch_id)


def on_shared_dispatch(path: str, body: Any) -> Target:
    """Every role tries the shared case's lead dispatch (nobody may change it)."""

    async def target(w: World, role: str) -> Call:
        c = await w.case("shared")
        return Call(path.format(dispatch_id=c.dispatch_id), json=body)

    return target


async def escalations(w: World, role: str) -> Call:
    c = await w.case("shared")
    return Call("/v1/escalations", params={"case_id": c.case_id}, marker=c.case_id)


async def whistles(w: World, role: str) -> Call:
    wid = await w.whistle("whistle-shared")
    c = await w.case("whistle-shared")
    return Call("/v1/whistles", params={"case_id": c.case_id}, marker=wid)


async def report_in(w: World, role: str) -> Call:
    return Call(f"/v1/whistles/{await w.whistle('whistle-shared')}/report-in")


async def lead(w: World, role: str) -> Call:
    tag = {"sup_in": "lead-sup", "admin": "lead-admin"}.get(role, "whistle-shared")
    body = {"lead_owner_id": OWN, "co_handler_ids": [CONVENED[1]]}
    return Call(f"/v1/whistles/{await w.whistle(tag)}/lead", json=body)


async def decide(w: World, role: str) -> Call:
    c = await w.pending_extension("decide-admin" if role == "admin" else "decide-sup")
    return Call(f"/v1/extensions/{c.dispatch_id}/decide", json={"approve": True})


async def extensions(w: World, role: str) -> Call:
    c = await w.pending_extension("list-ext")
    return Call("/v1/extensions", params={"limit": 500}, marker=c.dispatch_id)


async def visit_feedback(w: World, role: str) -> Call:
    tag = {"sup_in": "visit-sup", "admin": "visit-admin"}.get(role)
    c = await (w.resolved(tag) if tag else w.case("shared"))
    body = {"rating": "unsatisfied", "method": "phone", "comment": "电话回访：仍未修好"}
    return Call(f"/v1/cases/{c.case_id}/visit-feedback", json=body)


async def endpoint(w: World, role: str) -> Call:
    body = {"url": w.receiver.url, "secret": w.receiver.secret}
    return Call(f"/v1/endpoints/{OWN}", json=body)


async def channel_callback(w: World, role: str) -> Call:
    body = {"url": w.receiver.url, "secret": w.receiver.secret}
    return Call(f"/v1/channel-callbacks/{CHANNEL}", json=body)


async def deliveries(w: World, role: str) -> Call:
    c = await w.case("shared")
    return Call("/v1/deliveries", params={"case_id": c.case_id}, marker=c.case_id)


async def replay(w: World, role: str) -> Call:
    return Call(f"/v1/deliveries/{await w.delivery('shared')}/replay")


def console(path: str, key_in: str) -> Target:
    return fixed(path, key_in=key_in)


def new_case_body() -> dict[str, Any]:
    return case("public.streetlight", f"路灯闪烁 {secrets.token_hex(3)}", XINGFU)


async def submit(w: World, role: str) -> Call:
    return Call("/v1/cases", json=new_case_body())


async def submit_batch(w: World, role: str) -> Call:
    cases = [new_case_body() | {"external_id": f"SM-{secrets.token_hex(4)}"} for _ in range(2)]
    return Call("/v1/cases/batch", json={"cases": cases})


async def open311_post(w: World, role: str) -> Call:
    form = {"description": f"路灯不亮 {secrets.token_hex(3)}", "address_string": "幸福里小区5号楼",
            "service_code": "public.streetlight"}  # fmt: skip
    return Call("/open311/v2/requests.json", key_in="api_key", form=form)


async def open311_number(w: World) -> str:
    c = await w.case("shared")
    found = await w.get_ok("intake", f"/v1/cases/{c.case_id}")
    return str(found["case_number"])


async def open311_list(w: World, role: str) -> Call:
    number = await open311_number(w)
    return Call("/open311/v2/requests.json", params={"service_request_id": number}, marker=number)


async def open311_one(w: World, role: str) -> Call:
    return Call(f"/open311/v2/requests/{await open311_number(w)}.xml")


# --- the matrix -----------------------------------------------------------------------------

NO_SUCH_ATTACHMENT = "ab" * 32
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)
UNKNOWN_ATTACHMENT = cells(  # ops: 403, attachments are personal data
    403, channel=404, dept_own=404, dept_other=404, sup_in=404, sup_out=404, admin=404
)


async def upload(w: World, role: str) -> Call:
    return Call("/v1/attachments", params={"filename": "现场.png"}, content=PNG)


DEPT_ACTION = cells(403, dept_own="ok", dept_other=404, admin="ok")
CASE_READ = cells(403, channel="ok", sup_in="ok", sup_out=404, ops="ok", admin="ok")
WATCH_LIST = cells(403, sup_in="shown", sup_out="hidden", ops="shown", admin="shown")
WATCH_ONE = cells(403, sup_in="ok", sup_out=404, ops="ok", admin="ok")
DIAGNOSTICS = {
    (s, "GET", p): Row(PUBLIC, fixed(p))
    for s in SERVICES
    for p in (
        "/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect",
        "/redoc",
    )
}  # fmt: skip


# --- prevention work (issue 23 part B): grid workers, patrols, risks, campaigns, 回头看 -----

PREVENTION_GRID = "d01.s01.c01.g01"  # 幸福里's grid, in 新华街道's area
WRITE_IN_AREA = cells(403, sup_in="ok", admin="ok")  # sup_out: 403 (it names the place)
REPORT = cells(403, sup_in="ok", ops="ok", admin="ok")  # asked for d01.s01: sup_out 403


async def prevention(w: World) -> dict[str, str]:
    """A worker, a patrol, a campaign and a risk in 新华街道, made once by admin."""

    async def make() -> dict[str, str]:
        tag = secrets.token_hex(3)
        made = {"worker": f"MW{tag}", "campaign": f"matrix-{tag}"}
        r = await w.http.put(w.url("intake", f"/v1/grid-workers/{made['worker']}"),
                             json={"name": "矩阵网格员", "grid": PREVENTION_GRID}, headers=w.h("admin"))  # fmt: skip
        assert r.status_code == 201, r.text
        r = await w.http.post(w.url("intake", "/v1/patrols"), json=patrol_body(made["worker"]),
                              headers=w.h("admin"))  # fmt: skip
        assert r.status_code == 201, r.text
        r = await w.http.put(w.url("intake", f"/v1/campaigns/{made['campaign']}"),
                             json=campaign_body(), headers=w.h("admin"))  # fmt: skip
        assert r.status_code == 201, r.text
        made["risk"] = await new_risk(w, made["worker"])
        return made

    return await w.once("prevention", make)  # type: ignore[no-any-return]


def patrol_body(worker: str, day: str = "2026-01-05") -> dict[str, Any]:
    return {"worker_id": worker, "day": day, "households_visited": 5}


def campaign_body() -> dict[str, Any]:
    return {"theme": "供暖", "starts_on": "2026-01-01", "ends_on": "2026-03-31",
            "areas": [{"path": PREVENTION_GRID, "households": 100}]}  # fmt: skip


async def new_risk(w: World, worker: str) -> str:
    body = {"location": XINGFU, "category": "public.streetlight", "seen_by": worker,
            "description": f"路灯隐患 {secrets.token_hex(3)}", "seen_on": "2026-01-05",
            "follow_up_on": "2026-01-06"}  # fmt: skip
    r = await w.http.post(w.url("intake", "/v1/risks"), json=body, headers=w.h("admin"))
    assert r.status_code == 201, r.text
    return str(r.json()["risk_id"])


async def put_worker(w: World, role: str) -> Call:
    return Call(f"/v1/grid-workers/MW{role}", json={"name": "网格员", "grid": PREVENTION_GRID})


async def grid_workers(w: World, role: str) -> Call:
    return Call("/v1/grid-workers", marker=(await prevention(w))["worker"])


async def post_patrol(w: World, role: str) -> Call:
    return Call("/v1/patrols", json=patrol_body((await prevention(w))["worker"], "2026-01-06"))


async def patrol_list(w: World, role: str) -> Call:
    params = {"from": "2026-01-01", "to": "2026-01-31"}
    return Call("/v1/patrols", params=params, marker=(await prevention(w))["worker"])


def report(path: str, **params: str) -> Target:
    return fixed(path, params={"area": "d01.s01", **params})


async def post_risk(w: World, role: str) -> Call:
    worker = (await prevention(w))["worker"]
    body = {"location": XINGFU, "description": "楼道堆物", "seen_by": worker,
            "seen_on": "2026-01-05", "follow_up_on": "2026-01-06"}  # fmt: skip
    return Call("/v1/risks", json=body)


async def risk_list(w: World, role: str) -> Call:
    return Call("/v1/risks", params={"limit": 1000}, marker=(await prevention(w))["risk"])


async def risk_action(w: World, role: str, action: str, body: dict[str, Any]) -> Call:
    made = await prevention(w)
    risk = made["risk"]
    if role in ("sup_in", "admin"):  # an allowed write takes a risk of its own
        risk = await w.once(f"risk:{action}:{role}", lambda: new_risk(w, made["worker"]))
    return Call(f"/v1/risks/{risk}/{action}", json=body)


async def close_risk(w: World, role: str) -> Call:
    return await risk_action(w, role, "close", {"outcome": "已清理"})


async def risk_case(w: World, role: str) -> Call:
    return await risk_action(w, role, "case", {})


async def put_campaign(w: World, role: str) -> Call:
    return Call(f"/v1/campaigns/matrix-{role}-{secrets.token_hex(2)}", json=campaign_body())


async def campaign_list(w: World, role: str) -> Call:
    return Call("/v1/campaigns", marker=(await prevention(w))["campaign"])


async def campaign_one(w: World, role: str) -> Call:
    return Call(f"/v1/campaigns/{(await prevention(w))['campaign']}")


async def revisit(w: World, role: str) -> Call:
    """The shared case is no explained closure: in the area 409, outside 404."""
    c = await w.case("shared")
    return Call(f"/v1/cases/{c.case_id}/revisit",
                json={"outcome": "settled", "method": "phone", "note": "已平息"})  # fmt: skip


PREVENTION_ROWS: dict[tuple[str, str, str], Row] = {
    ("intake", "PUT", "/v1/grid-workers/{worker_id}"): Row(WRITE_IN_AREA, put_worker),
    ("intake", "GET", "/v1/grid-workers"): Row(WATCH_LIST, grid_workers),
    ("intake", "POST", "/v1/patrols"): Row(WRITE_IN_AREA, post_patrol),
    ("intake", "GET", "/v1/patrols"): Row(WATCH_LIST, patrol_list),
    ("intake", "GET", "/v1/reports/patrols/weekly"): Row(
        REPORT, report("/v1/reports/patrols/weekly")
    ),
    ("intake", "GET", "/v1/reports/patrols/monthly"): Row(
        REPORT, report("/v1/reports/patrols/monthly")
    ),
    ("intake", "GET", "/v1/reports/prevention"): Row(
        REPORT,
        report(
            "/v1/reports/prevention",
            **{"from": "2026-01-01T00:00:00+08:00", "to": "2026-02-01T00:00:00+08:00"},
        ),
    ),
    ("intake", "POST", "/v1/risks"): Row(WRITE_IN_AREA, post_risk),
    ("intake", "GET", "/v1/risks"): Row(WATCH_LIST, risk_list),
    ("intake", "POST", "/v1/risks/{risk_id}/close"): Row(
        cells(403, sup_in="ok", sup_out=404, admin="ok"), close_risk
    ),
    ("intake", "POST", "/v1/risks/{risk_id}/case"): Row(
        cells(403, sup_in="ok", sup_out=404, admin="ok"), risk_case
    ),
    ("intake", "PUT", "/v1/campaigns/{campaign_id}"): Row(WRITE_IN_AREA, put_campaign),
    ("intake", "GET", "/v1/campaigns"): Row(WATCH_LIST, campaign_list),
    ("intake", "GET", "/v1/campaigns/{campaign_id}"): Row(WATCH_ONE, campaign_one),
    ("intake", "GET", "/v1/revisits"): Row(
        cells(403, sup_in="ok", sup_out="ok", ops="ok", admin="ok"), fixed("/v1/revisits")
    ),
    ("intake", "POST", "/v1/cases/{case_id}/revisit"): Row(
        cells(403, sup_in=409, sup_out=404, admin=409), revisit
    ),
}


MATRIX: dict[tuple[str, str, str], Row] = {
    # intake: channels submit and read; departments see the petitioner of their dispatches
    ("intake", "POST", "/v1/cases"): Row(cells(403, channel="ok"), submit),
    ("intake", "POST", "/v1/attachments"): Row(cells(403, channel="ok", admin="ok"), upload),
    ("intake", "GET", "/v1/attachments/{attachment_id}"): Row(
        cells(403, channel=404, admin=404), fixed(f"/v1/attachments/{NO_SUCH_ATTACHMENT}")
    ),
    ("intake", "POST", "/v1/cases/batch"): Row(cells(403, channel="ok"), submit_batch),
    ("intake", "GET", "/v1/cases/{case_id}"): Row(CASE_READ, on_case("/v1/cases/{case_id}")),
    ("intake", "GET", "/v1/refs/{channel}/{ref}"): Row(
        CASE_READ, on_case(f"/v1/refs/{CHANNEL}/{{ref}}")
    ),
    ("intake", "GET", "/v1/cases/{case_id}/petitioner"): Row(
        cells(403, dept_own="ok", dept_other=404, admin="ok"), petitioner
    ),
    # the raw contact: the notifier's service key (each read audited), never ops
    ("intake", "GET", "/v1/petitioners/{petitioner_ref}/contact"): Row(
        cells(403, service="ok", admin="ok"), contact
    ),
    ("intake", "PATCH", "/v1/petitioners/{petitioner_ref}/contact"): Row(
        cells(403, admin="ok"), correct_contact
    ),
    ("intake", "GET", "/v1/alerts"): Row(WATCH_LIST, alerts),
    # an office marks an alert of its area (ops reads only; admin is no office)
    ("intake", "POST", "/v1/alerts/{alert_id}/received"): Row(
        cells(403, sup_in="ok", sup_out=404), alert_mark("received")
    ),
    ("intake", "POST", "/v1/alerts/{alert_id}/handled"): Row(
        cells(403, sup_in="ok", sup_out=404), alert_mark("handled")
    ),
    ("intake", "GET", "/v1/key-persons"): Row(WATCH_LIST, key_persons),
    ("intake", "GET", "/v1/key-persons/{petitioner_ref}"): Row(WATCH_ONE, key_person),
    # the registry's lifecycle and persons (一人多号): supervisors of the area and admin
    ("intake", "POST", "/v1/key-persons"): Row(STAFF_WRITE, enter_key_person),
    ("intake", "POST", "/v1/key-persons/{petitioner_ref}/review"): Row(
        STAFF_WRITE, on_key_person("/review", {"note": "情绪平稳"})
    ),
    ("intake", "PUT", "/v1/key-persons/{petitioner_ref}/plan"): Row(
        STAFF_WRITE, on_key_person("/plan", PLAN)
    ),
    ("intake", "POST", "/v1/key-persons/{petitioner_ref}/visits"): Row(
        STAFF_WRITE, on_key_person("/visits", VISIT)
    ),
    ("intake", "POST", "/v1/key-persons/{petitioner_ref}/conversions"): Row(
        STAFF_WRITE, on_key_person("/conversions", {"role": "volunteer", "since": "2026-12-20"})
    ),
    ("intake", "POST", "/v1/key-persons/{petitioner_ref}/leave"): Row(
        STAFF_WRITE, leave_key_person
    ),
    ("intake", "GET", "/v1/key-person-conversions"): Row(WATCH_LIST, conversions),
    ("intake", "GET", "/v1/persons/{petitioner_ref}"): Row(WATCH_ONE, get_person),
    ("intake", "POST", "/v1/persons/merge"): Row(STAFF_WRITE, merge_persons),
    ("intake", "POST", "/v1/persons/{petitioner_ref}/split"): Row(STAFF_WRITE, split_person),
    # router: the department API, case timelines, whistles, reports, the console
    ("router", "GET", "/v1/dispatches"): Row(
        cells(403, dept_own="shown", dept_other="hidden", admin="shown"), own_dispatches
    ),
    ("router", "POST", "/v1/dispatches/{dispatch_id}/acknowledge"): Row(
        DEPT_ACTION, dispatch_action("acknowledge", None, lambda w: w.case("ack-own"))
    ),
    ("router", "POST", "/v1/dispatches/{dispatch_id}/progress"): Row(
        DEPT_ACTION,
        dispatch_action("progress", {"note": "已联系供电"}, lambda w: w.acked("shared")),
    ),
    ("router", "POST", "/v1/dispatches/{dispatch_id}/extension"): Row(
        DEPT_ACTION,
        dispatch_action(
            "extension", {"working_days": 1, "reason": "等配件"}, lambda w: w.acked("shared")
        ),
    ),
    ("router", "POST", "/v1/dispatches/{dispatch_id}/resolve"): Row(
        DEPT_ACTION,
        dispatch_action(
            "resolve",
            {"outcome": "resolved", "summary": "已修复"},
            lambda w: w.acked("resolve-own"),
        ),
    ),
    ("router", "POST", "/v1/dispatches/{dispatch_id}/return"): Row(
        DEPT_ACTION,
        dispatch_action(
            "return",
            {"reason_code": "not_our_jurisdiction", "note": "路灯归供电公司"},
            lambda w: w.case("return-own"),
        ),
    ),
    # 复核: only a lead designated after a whistle may ask (the shared case's lead was
    # routed, so its owner is refused with 409); the decision is the designating office's
    ("router", "POST", "/v1/dispatches/{dispatch_id}/reconsideration"): Row(
        cells(403, dept_own=409, dept_other=404, admin=409),
        on_shared_dispatch(
            "/v1/dispatches/{dispatch_id}/reconsideration", {"reason": "本单位无执法权"}
        ),
    ),
    ("router", "POST", "/v1/dispatches/{dispatch_id}/reconsideration/decision"): Row(
        cells(403, sup_in=404, sup_out=404, admin=409),
        on_shared_dispatch(
            "/v1/dispatches/{dispatch_id}/reconsideration/decision",
            {"uphold": True, "reason": "维持指定"},
        ),
    ),
    # the whole case: also the department holding a live dispatch of it (404 to another)
    ("router", "GET", "/v1/cases/{case_id}"): Row(
        WATCH_ONE | {"dept_own": "ok", "dept_other": 404, "channel": "ok"},
        on_case("/v1/cases/{case_id}"),
    ),
    # attachments: uploads by the channel (intake) and departments (router); reading one
    # needs the right to read its case (tests/e2e/test_attachments.py walks the allowed
    # paths; here an id nobody uploaded answers 404 to every reader, as a forbidden one)
    ("router", "POST", "/v1/attachments"): Row(
        cells(403, dept_own="ok", dept_other="ok", admin="ok"), upload
    ),
    ("router", "GET", "/v1/attachments/{attachment_id}"): Row(
        UNKNOWN_ATTACHMENT, fixed(f"/v1/attachments/{NO_SUCH_ATTACHMENT}")
    ),
    ("router", "GET", "/v1/cases/{case_id}/attachments/{attachment_id}"): Row(
        UNKNOWN_ATTACHMENT,
        on_case("/v1/cases/{case_id}/attachments/" + NO_SUCH_ATTACHMENT),
    ),
    ("router", "GET", "/v1/cases/{case_id}/routing"): Row(
        WATCH_ONE, on_case("/v1/cases/{case_id}/routing")
    ),
    ("router", "POST", "/v1/cases/{case_id}/whistle"): Row(
        cells(403, sup_in="ok", sup_out=404, admin="ok"), blow
    ),
    # the dispatchers' queue (tests/e2e/test_triage.py walks it with queued cases)
    ("router", "GET", "/v1/triage"): Row(
        cells(403, sup_in="ok", sup_out="ok", admin="ok"), fixed("/v1/triage")
    ),
    ("router", "POST", "/v1/triage/{case_id}"): Row(
        cells(403, sup_in=409, sup_out=404, admin=409), triage_pick
    ),
    ("router", "POST", "/v1/cases/{case_id}/reclassify"): Row(
        cells(403, sup_in="ok", sup_out=404, admin="ok"), reclassify
    ),
    # dead letters: system data for ops (tests/e2e/test_dead_letters.py replays one)
    ("router", "GET", "/v1/dead-letters/{service}"): Row(
        cells(403, ops="ok", admin="ok"), fixed("/v1/dead-letters/intake")
    ),
    ("router", "POST", "/v1/dead-letters/{service}/replay"): Row(
        cells(403, admin="ok"), fixed("/v1/dead-letters/intake/replay", json={"limit": 1})
    ),
    ("router", "GET", "/v1/owners"): Row(cells("ok"), fixed("/v1/owners")),
    ("router", "GET", "/v1/reports/kpis"): Row(
        cells(403, sup_in="ok", sup_out=403, ops="ok", admin="ok"),
        fixed("/v1/reports/kpis", params={"area": "d01.s01"}),
    ),
    ("router", "GET", "/v1/cases"): Row(
        cells(
            403,
            channel="shown",
            dept_own="shown",
            dept_other="hidden",
            sup_in="shown",
            sup_out="hidden",
            ops="shown",
            admin="shown",
        ),
        case_list,
    ),
    ("router", "GET", "/v1/reports/backlog"): Row(
        cells(403, sup_in="ok", sup_out="ok", ops="ok", admin="ok"), fixed("/v1/reports/backlog")
    ),
    ("router", "GET", "/v1/reports/queues"): Row(
        cells(403, ops="ok", admin="ok"), fixed("/v1/reports/queues")
    ),
    ("router", "GET", "/console"): Row(  # a key in the URL is refused, whoever's it is
        cells(400, anon=200), console("/console", "query")
    ),
    ("router", "POST", "/console/login"): Row(
        cells(401, anon=401, sup_in=303, sup_out=303, ops=303, admin=303),
        console("/console/login", "form"),
    ),
    ("router", "POST", "/console/logout"): Row(
        cells(303, anon=303), console("/console/logout", "none")
    ),
    ("router", "GET", "/console/static/{name}"): Row(PUBLIC, fixed("/console/static/console.css")),
    # the workbench: signed in with a key of any role but service; its pages and forms take
    # the session cookie only (a bearer header is ignored: to the sign-in page, or 401), and
    # tests/e2e/test_workbench_*.py walk them signed in, in a browser
    ("router", "GET", "/workbench"): Row(cells(400, anon=200), console("/workbench", "query")),
    ("router", "POST", "/workbench/login"): Row(
        cells(303, anon=401, service=401), console("/workbench/login", "form")
    ),
    ("router", "POST", "/workbench/logout"): Row(
        cells(303, anon=303), console("/workbench/logout", "none")
    ),
    ("router", "GET", "/workbench/static/{name}"): Row(
        PUBLIC, fixed("/workbench/static/workbench.css")
    ),
    **{
        ("router", "GET", path): Row(
            cells(303, anon=303), on_case(path.replace("{attachment_id}", NO_SUCH_ATTACHMENT))
        )
        for path in (
            "/workbench/cases",
            "/workbench/cases/{case_id}",
            "/workbench/cases/{case_id}/attachments/{attachment_id}",
            "/workbench/triage",
        )
    },
    **{
        ("router", "POST", f"/workbench/{form}"): Row(
            cells(401, anon=401), fixed(f"/workbench/{form}", json={})
        )
        for form in (
            "act",
            "whistle",
            "lead",
            "extension",
            "rating",
            "register",
            "replay",
            "triage/pick",
            "reclassify",
            "dead-letters",
            "alert",
        )
    },
    # escalation: clocks, escalation steps, whistles, extensions
    ("escalation", "GET", "/v1/deadlines"): Row(WATCH_LIST, deadlines),
    ("escalation", "GET", "/v1/backlog"): Row(
        cells(403, sup_in="ok", sup_out="ok", ops="ok", admin="ok"), fixed("/v1/backlog")
    ),
    ("escalation", "GET", "/v1/escalations"): Row(
        cells(403, sup_in="ok", sup_out="hidden", ops="ok", admin="ok"), escalations
    ),
    ("escalation", "GET", "/v1/whistles"): Row(
        cells(
            403,
            dept_own="shown",
            dept_other="hidden",
            sup_in="shown",
            sup_out="hidden",
            ops="shown",
            admin="shown",
        ),
        whistles,
    ),
    ("escalation", "POST", "/v1/whistles/{whistle_id}/report-in"): Row(
        cells(403, dept_own="ok", dept_other=404),
        report_in,  # not convened: not its business
    ),
    ("escalation", "POST", "/v1/whistles/{whistle_id}/lead"): Row(
        cells(403, sup_in="ok", sup_out=404, admin="ok"), lead
    ),
    ("escalation", "GET", "/v1/extensions"): Row(WATCH_LIST, extensions),
    ("escalation", "POST", "/v1/extensions/{dispatch_id}/decide"): Row(
        cells(403, sup_in="ok", sup_out=404, admin="ok"), decide
    ),
    # notifier: endpoints and callbacks, the delivery log, the public notice board
    ("notifier", "PUT", "/v1/endpoints/{owner_id}"): Row(
        cells(403, dept_own="ok", admin="ok"), endpoint
    ),
    ("notifier", "PUT", "/v1/channel-callbacks/{channel}"): Row(
        cells(403, channel="ok", admin="ok"), channel_callback
    ),
    ("notifier", "GET", "/v1/deliveries"): Row(
        cells(403, sup_in="shown", sup_out="hidden", ops="shown", admin="shown"), deliveries
    ),
    ("notifier", "POST", "/v1/deliveries/{delivery_id}/replay"): Row(
        cells(403, admin="ok"), replay
    ),
    ("notifier", "GET", "/v1/notices"): Row(PUBLIC, fixed("/v1/notices")),
    ("intake", "POST", "/v1/cases/{case_id}/feedback"): Row(
        cells(403, channel="ok", admin="ok"), feedback
    ),
    ("intake", "POST", "/v1/cases/{case_id}/visit-feedback"): Row(
        cells(403, sup_in="ok", sup_out=404, admin="ok"), visit_feedback
    ),
    ("intake", "GET", "/v1/feedback/{token}"): Row(
        cells(404, anon=404), fixed("/v1/feedback/not-a-token")
    ),
    ("intake", "POST", "/v1/feedback/{token}"): Row(
        cells(404, anon=404), fixed("/v1/feedback/not-a-token", json={"rating": "satisfied"})
    ),
    # Open311 GeoReport v2 (intake): services are public; requests are a channel's own
    ("intake", "GET", "/open311/v2/discovery.{fmt}"): Row(
        PUBLIC, fixed("/open311/v2/discovery.json")
    ),
    ("intake", "GET", "/open311/v2/services.{fmt}"): Row(PUBLIC, fixed("/open311/v2/services.xml")),
    ("intake", "GET", "/open311/v2/services/{service_code}.{fmt}"): Row(
        PUBLIC, fixed("/open311/v2/services/public.streetlight.json")
    ),
    ("intake", "POST", "/open311/v2/requests.{fmt}"): Row(cells(403, channel="ok"), open311_post),
    ("intake", "GET", "/open311/v2/requests.{fmt}"): Row(cells(403, channel="shown"), open311_list),
    ("intake", "GET", "/open311/v2/requests/{service_request_id}.{fmt}"): Row(
        cells(403, channel="ok"), open311_one
    ),
    **PREVENTION_ROWS,
    **DIAGNOSTICS,
}


# --- running it -----------------------------------------------------------------------------


def app_routes(stack: StackUnderTest) -> set[tuple[str, str, str]]:
    """Every (service, method, path) the four apps answer, hidden routes included."""
    found = set()
    for service in SERVICES:
        module = importlib.import_module(f"services.{service}.app")
        app = module.create_app(stack.settings())
        for route in iter_route_contexts(app.routes):
            for method in route.methods or ():
                if method != "HEAD":
                    found.add((service, method, str(route.path)))
    return found


def classify(r: httpx.Response, marker: str | None) -> Outcome:
    if marker is not None and r.status_code == 200:
        return "shown" if marker in r.text else "hidden"
    if 200 <= r.status_code < 400:
        return "ok"
    return r.status_code


def matches(expected: Outcome, got: Outcome, status: int) -> bool:
    if isinstance(expected, int):
        return status == expected
    if expected == "ok":
        return got in ("ok", "shown", "hidden")
    return expected == got


async def send(w: World, service: str, method: str, role: str, call: Call) -> httpx.Response:
    raw = w.raw.get(role, "")
    headers = w.h(role) if call.key_in == "header" else {}
    params = dict(call.params or {})
    data = None
    if call.key_in == "query" and role != "anon":
        params["key"] = raw
    if call.key_in == "form":
        data = {"key": raw}
    if call.key_in == "api_key":
        data = (call.form or {}) | ({"api_key": raw} if raw else {})
    if call.content is not None:
        headers = headers | {"Content-Type": "image/png"}
    return await w.http.request(
        method, w.url(service, call.path), headers=headers, params=params or None,
        json=call.json, data=data, content=call.content,
    )  # fmt: skip


@pytest.fixture(scope="module")
async def world(services: ServiceProcs, keys: Keys, stack: StackUnderTest) -> AsyncIterator[World]:
    async with (
        WebhookReceiver(secrets.token_urlsafe(24)) as receiver,
        httpx.AsyncClient(timeout=15, follow_redirects=False) as http,
    ):
        w = World(services, keys, stack, http, receiver)
        await w.make_keys()
        await w.prepare()
        yield w


def test_every_route_has_a_row(stack: StackUnderTest) -> None:
    routes = app_routes(stack)
    missing = sorted(routes - MATRIX.keys())
    stale = sorted(MATRIX.keys() - routes)
    assert not missing, f"routes with no row in the scope matrix: {missing}"
    assert not stale, f"rows for routes that no longer exist: {stale}"


def test_no_ops_write_is_allowed_and_every_keyed_route_refuses_no_key() -> None:
    for (service, method, path), row in MATRIX.items():
        if path.startswith(("/console", "/workbench")):
            continue  # signing in and out of the pages is not a write; their forms need a session
        if method != "GET":
            assert row.expect["ops"] not in ("ok", "shown", "hidden"), (service, method, path)
        if row.expect is not PUBLIC and path != "/v1/feedback/{token}":
            assert row.expect["anon"] == 401, (service, method, path)


async def test_each_role_gets_what_the_matrix_says_on_every_route(world: World) -> None:
    wrong = []
    for (service, method, path), row in MATRIX.items():
        for role in RUN_ORDER:
            call = await row.target(world, role)
            world.http.cookies.clear()
            r = await send(world, service, method, role, call)
            got = classify(r, call.marker)
            if not matches(row.expect[role], got, r.status_code):
                wrong.append(
                    f"{service} {method} {path} as {role}: expected {row.expect[role]}, "
                    f"got {got} ({r.status_code} {r.text[:160]})"
                )
    assert not wrong, "\n".join(wrong)
    await _admin_use_and_every_reveal_were_audited(world)


async def _admin_use_and_every_reveal_were_audited(world: World) -> None:
    conn = await asyncpg.connect(world.stack.raw_database_url)
    try:
        rows = await conn.fetch("SELECT actor, action, detail FROM platform.audit_log")
    finally:
        await conn.close()
    shared = await world.case("shared")
    actions = {(r["actor"], r["action"]) for r in rows}
    assert ("admin:-", "admin.request") in actions
    assert (f"department:{OWN}", "petitioner.reveal") in actions
    assert ("service:-", "petitioner.contact") in actions
    assert ("ops:-", "petitioner.contact") not in actions
    reveals = [r for r in rows if r["action"] == "petitioner.reveal"]
    assert any(shared.case_id in str(r["detail"]) for r in reveals)


async def test_a_supervisor_sees_its_own_area_by_default_and_nothing_of_another(
    world: World, keys: Keys
) -> None:
    http, url = world.http, world.url
    for role, own in (("sup_in", "d01.s01"), ("sup_out", "d01.s02")):
        r = await http.get(url("router", "/v1/reports/kpis"), headers=world.h(role))
        assert r.status_code == 200 and r.json()["area"] == own, r.text
    part = {"area": "d01.s01.c01"}
    r = await http.get(url("router", "/v1/reports/kpis"), params=part, headers=world.h("sup_in"))
    assert r.status_code == 200 and r.json()["area"] == "d01.s01.c01"

    # a key person with a case in each street: each supervisor's file lists its own case only
    number = phone()
    first = case("public.streetlight", "路灯不亮（越级）", XINGFU, petitioner={"phone": number})
    r = await http.post(url("intake", "/v1/cases"), json=first, headers=world.h("superior"))
    assert r.status_code == 201 and r.json()["key_person"], r.text
    here = r.json()["case_id"]
    second = case("neighbour.dispute", "邻居噪音", HEPINGLI, petitioner={"phone": number})
    r = await http.post(url("intake", "/v1/cases"), json=second, headers=world.h("channel"))
    assert r.status_code == 201, r.text
    there = r.json()["case_id"]
    files = (await world.get_ok("intake", "/v1/key-persons", limit=500)) or []
    ref = next(f["petitioner_ref"] for f in files if here in {c["case_id"] for c in f["cases"]})
    seen = {}
    for role in ("ops", "sup_in", "sup_out"):
        r = await http.get(url("intake", f"/v1/key-persons/{ref}"), headers=world.h(role))
        assert r.status_code == 200, r.text
        seen[role] = {c["case_id"] for c in r.json()["cases"]}
        assert r.json()["petitions"] == 2
    assert seen == {"ops": {here, there}, "sup_in": {here}, "sup_out": {there}}

    # the console: a supervisor's page has its area's numbers and no queue panel
    async with httpx.AsyncClient(
        base_url=url("router", ""), timeout=15, follow_redirects=True
    ) as console:
        pages = {}
        for role in ("ops", "sup_in"):
            console.cookies.clear()
            r = await console.post("/console/login", data={"key": world.raw[role]})
            assert r.status_code == 200 and r.url.path == "/console", r.text[:200]
            pages[role] = r.text
        assert 'data-source="queues"' in pages["ops"] or "消息队列" in pages["ops"]
        assert "消息队列" not in pages["sup_in"]
        assert (await console.get("/console", params={"area": "d01.s02"})).status_code == 403

    # a supervisor key for an office the directory does not know sees nothing
    ghost = await keys.make(Role.SUPERVISOR, owner="no-such-office")
    shared = await world.case("shared")
    assert (await http.get(url("intake", "/v1/alerts"), headers=ghost)).json() == []
    assert (await http.get(url("intake", "/v1/key-persons"), headers=ghost)).json() == []
    assert (
        await http.get(url("router", f"/v1/cases/{shared.case_id}"), headers=ghost)
    ).status_code == 404
    assert (await http.get(url("router", "/v1/reports/kpis"), headers=ghost)).status_code == 403
    r = await http.get(url("notifier", "/v1/deliveries"), headers=ghost)
    assert r.status_code == 200 and r.json() == []
