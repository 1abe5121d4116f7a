"""Editing the rules under a running router: a valid edit routes the next case by it (its
version on the dispatch); a bad edit is refused with file, line and reason in the log and a
metric, and the router goes on routing by the last good rules."""

from __future__ import annotations

import json
import re
import secrets
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.auth.keys import Role
from shared.db.migrate import migrate_all_async
from shared.settings import ROOT
from tests.e2e.conftest import Keys
from tests.e2e.intake_helpers import XINGFU
from tests.support.services import ServiceProcs
from tests.support.stack import create_stack, drop_stack
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


class Office:
    """Intake and router on their own stack, reading rules from a directory the test edits."""

    def __init__(self, procs: ServiceProcs, config: Path, keys: Keys) -> None:
        self.procs, self.config, self.keys = procs, config, keys

    @property
    def rules(self) -> Path:
        return self.config / "rules.yaml"

    def edit_rules(self, *changes: tuple[str, str]) -> None:
        """All changes in one step (write aside, then rename), as an operator deploys."""
        text = self.rules.read_text(encoding="utf-8")
        for old, new in changes:
            assert old in text, old
            text = text.replace(old, new, 1)
        aside = self.rules.with_suffix(".tmp")
        aside.write_text(text, encoding="utf-8")
        aside.replace(self.rules)

    async def route_cooking_fume(self) -> dict[str, Any]:
        """Submit a cooking-fume case; the router's lead dispatch of it."""
        channel = await self.keys.make(Role.CHANNEL, channel="grid_app")
        ops = await self.keys.make(Role.OPS)
        body = {"category": "environment.cooking_fume", "title": "底商油烟", "location": XINGFU,
                "description": "楼下餐馆油烟直排。", "external_id": f"R-{secrets.token_hex(4)}"}  # fmt: skip
        async with httpx.AsyncClient(timeout=10) as http:
            r = await http.post(f"{self.procs.url('intake')}/v1/cases", json=body, headers=channel)
            assert r.status_code == 201, r.text
            case_id = r.json()["case_id"]

            async def lead() -> dict[str, Any] | None:
                got = await http.get(f"{self.procs.url('router')}/v1/cases/{case_id}", headers=ops)
                if got.status_code != 200:
                    return None
                return next((d for d in got.json()["dispatches"] if d["role"] == "lead"), None)

            return await eventually(lead, what=f"case {case_id} dispatched")

    async def metric(self, name: str, **labels: str) -> float:
        async with httpx.AsyncClient(timeout=5) as http:
            text = (await http.get(f"{self.procs.url('router')}/metrics")).text
        want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        for line in text.splitlines():
            m = re.match(rf"^{name}\{{(.*)\}} (\S+)$", line)
            if m and ",".join(sorted(m.group(1).split(","))) == want:
                return float(m.group(2))
        return 0.0

    async def wait_metric(self, name: str, **labels: str) -> None:
        async def positive() -> bool:
            return await self.metric(name, **labels) > 0

        await eventually(positive, timeout=20, what=f"{name}{labels} above 0")

    def router_log(self, event: str) -> list[dict[str, Any]]:
        lines = self.procs.log_path("router").read_text(errors="replace").splitlines()
        found = []
        for line in lines:
            if event in line and line.startswith("{"):
                entry = json.loads(line)
                if entry.get("event") == event:
                    found.append(entry)
        return found


@pytest.fixture(scope="module")
async def office(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Office]:
    stack = await create_stack("reload")
    await migrate_all_async(stack.database_url)
    config = Path(tmp_path_factory.mktemp("config")) / "config"
    shutil.copytree(ROOT / "config", config)
    procs = ServiceProcs(
        stack=stack,
        log_dir=Path(tmp_path_factory.mktemp("reload-logs")),
        env_extra={
            "SHAOBAO_RULES_FILE": str(config / "rules.yaml"),
            "SHAOBAO_OWNERS_FILE": str(config / "owners.yaml"),
            "SHAOBAO_CALENDAR_DIR": str(config / "calendar"),
            "SHAOBAO_LOG_JSON": "true",
        },
    )
    try:
        for service in ("intake", "router"):
            procs.start(service)
        for service in ("intake", "router"):
            await procs.wait_ready(service)
        yield Office(procs, config, Keys(stack))
    finally:
        procs.stop_all()
        await drop_stack(stack)


async def test_a_running_router_takes_a_valid_rules_edit_and_refuses_a_bad_one(
    office: Office,
) -> None:
    first = await office.route_cooking_fume()
    assert first["owner_id"] == "d01-sthj"
    assert first["ruleset_version"].startswith("2026.1+")

    office.edit_rules(
        ('version: "2026.1"', 'version: "2026.2"'), ("lead: d01-sthj", "lead: d01-cgw")
    )
    await office.wait_metric("shaobao_config_reloads_total", config="router", result="ok")
    second = await office.route_cooking_fume()
    assert second["owner_id"] == "d01-cgw"
    assert second["ruleset_version"].startswith("2026.2+")

    office.edit_rules(("lead: d01-cgw", "lead: d01-nobody"))
    await office.wait_metric("shaobao_config_refused", config="router")
    refusal = office.router_log("config_refused")[-1]
    assert refusal["file"] == "rules.yaml"
    assert (
        "d01-nobody" in office.rules.read_text(encoding="utf-8").splitlines()[refusal["line"] - 1]
    )
    assert "d01-nobody" in refusal["reason"]

    third = await office.route_cooking_fume()
    assert third["owner_id"] == "d01-cgw"
    assert third["ruleset_version"] == second["ruleset_version"]
    async with httpx.AsyncClient(timeout=5) as http:
        assert (await http.get(f"{office.procs.url('router')}/readyz")).status_code == 200
