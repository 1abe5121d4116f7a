"""``shaobao rules simulate`` on the real stack (issue 21, "Rule changes, simulated").

Four cases go through intake and are dispatched; then a copy of the shipped rules in which
the cooking-fume lead moves from 生态环境局 to 城管委 is simulated on the stored cases: the
two cooking-fume cases, and no other, change lead. The session's stack holds other modules'
cases too, so the assertions are about these cases and about categories as a whole.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.auth.keys import Role
from tests.e2e.conftest import Keys
from tests.e2e.intake_helpers import XINGFU, case, phone
from tests.support.services import ROOT, ServiceProcs
from tests.support.stack import StackUnderTest
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e
GUANGMING = {
    "district": "d01",
    "street": "s01",
    "community": "c02",
    "grid": "g01",
    "compound": "k01",
}
FUME = "environment.cooking_fume"
SUBMITTED = {  # name: category, place (no elevator case in 和平里: see test_intake_alerts)
    "fume-xingfu": (FUME, XINGFU),
    "fume-guangming": (FUME, GUANGMING),
    "streetlight": ("public.streetlight", XINGFU),
    "noise": ("neighbour.renovation_noise", GUANGMING),
}
RULES = (ROOT / "config" / "rules.yaml").read_text(encoding="utf-8")


def shaobao(stack: StackUnderTest, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shared.cli.main", *args],
        cwd=ROOT, env=stack.env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip


async def submit_and_wait(services: ServiceProcs, keys: Keys) -> dict[str, dict[str, Any]]:
    """Each case's number and the lead the router dispatched it to."""
    channel = await keys.make(Role.CHANNEL, channel="hotline_12345")
    ops = await keys.make(Role.OPS)
    tag = secrets.token_hex(3)
    out: dict[str, dict[str, Any]] = {}
    async with httpx.AsyncClient(timeout=10) as http:
        for name, (category, where) in SUBMITTED.items():
            body = case(category, f"规则模拟 {name} {tag}", where) | {
                "petitioner": {"name": "李先生", "phone": phone()}
            }
            r = await http.post(f"{services.url('intake')}/v1/cases", json=body, headers=channel)
            assert r.status_code == 201, r.text
            out[name] = {"case_id": r.json()["case_id"], "case_number": r.json()["case_number"]}
        for name, sent in out.items():

            async def lead(case_id: str = sent["case_id"]) -> str | None:
                got = await http.get(f"{services.url('router')}/v1/cases/{case_id}", headers=ops)
                leads = [d["owner_id"] for d in got.json().get("dispatches", [])
                         if d["role"] == "lead"]  # fmt: skip
                return leads[0] if leads else None

            sent["lead"] = await eventually(lead, what=f"{name} dispatched")
    return out


def write_rules(tmp_path: Path, old: str, new: str) -> Path:
    assert RULES.count(old) == 1, old
    path = tmp_path / "rules-new.yaml"
    path.write_text(RULES.replace(old, new), encoding="utf-8")
    return path


async def test_a_moved_lead_shows_on_exactly_the_cases_of_its_category(
    services: ServiceProcs, keys: Keys, stack: StackUnderTest, tmp_path: Path
) -> None:
    sent = await submit_and_wait(services, keys)
    assert sent["fume-xingfu"]["lead"] == sent["fume-guangming"]["lead"] == "d01-sthj"
    new_rules = write_rules(tmp_path, "    lead: d01-sthj\n", "    lead: d01-cgw\n")

    run = shaobao(stack, "rules", "simulate", "--rules", str(new_rules), "--since", "1d",
                  "--json", "--examples", "10000", "--batch", "10")  # fmt: skip
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)

    examples = {e["case_number"]: e for e in report["examples"]}
    for name in ("fume-xingfu", "fume-guangming"):
        e = examples[sent[name]["case_number"]]
        assert (e["category"], e["lead_changed"], e["co_changed"]) == (FUME, True, False)
        assert (e["current"]["lead"], e["current"]["lead_name"]) == ("d01-sthj", "城西区生态环境局")
        assert (e["new"]["lead"], e["new"]["lead_name"]) == ("d01-cgw", "城西区城市管理委员会")
        assert e["stored"] is None  # stored as the current rules route it
    assert examples[sent["fume-guangming"]["case_number"]]["place"] == "d01.s01.c02.g01.k01"
    assert not {sent[n]["case_number"] for n in ("streetlight", "noise")} & set(examples)
    assert {e["category"] for e in report["examples"]} == {FUME}

    rows = {r["category"]: r for r in report["by_category"]}
    fume = rows.pop(FUME)
    assert fume["lead_changed"] == fume["cases"] >= 2
    assert all(r["lead_changed"] == r["co_changed"] == 0 for r in rows.values())
    assert {"public.streetlight", "neighbour.renovation_noise"} <= set(rows)
    assert report["lead_changed"] == report["changed"] == len(report["examples"]) == fume["cases"]
    assert [(m["from_lead"], m["to_lead"], m["cases"]) for m in report["lead_moves"]] == [
        ("d01-sthj", "d01-cgw", fume["cases"])
    ]
    assert report["cases"] >= len(SUBMITTED)

    text = shaobao(stack, "rules", "simulate", "--rules", str(new_rules), "--since", "1d")
    assert text.returncode == 0, text.stderr
    assert "城西区生态环境局（d01-sthj） → 城西区城市管理委员会（d01-cgw）" in text.stdout


def test_a_broken_rules_file_is_refused_with_a_reason_and_no_report(
    stack: StackUnderTest, tmp_path: Path
) -> None:
    broken = write_rules(tmp_path, "  - id: streetlight\n", "  - id: garbage\n")

    run = shaobao(stack, "rules", "simulate", "--rules", str(broken), "--since", "90d")

    assert run.returncode == 1
    assert "规则文件有误 (invalid)" in run.stderr and "duplicate id" in run.stderr
    assert run.stdout == ""
