"""Rules, owners and calendar edited while a service runs: a valid edit is taken whole,
a bad one is refused with file, line and reason, and the last good set stays in force."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from services.escalation.deps import EscalationDeps
from services.router.deps import RouterDeps
from shared.config_watch import REFUSED, RELOADS
from shared.domain.routing import Location, route
from shared.settings import ROOT, Settings

XINGFULI = Location(district="d01", street="s01", community="c01", grid="g01", compound="k01")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config)
    return Settings(
        environment="test",
        rules_file=config / "rules.yaml",
        owners_file=config / "owners.yaml",
        calendar_dir=config / "calendar",
    )


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def refused(config: str) -> float:
    return float(REFUSED.labels(config)._value.get())


def reloads(config: str, result: str) -> float:
    return float(RELOADS.labels(config, result)._value.get())


async def test_unchanged_files_are_not_reloaded(settings: Settings) -> None:
    deps = RouterDeps.load(settings)
    assert await deps.watch(settings).check() is None


async def test_a_valid_rules_edit_is_taken_and_new_dispatches_record_its_version(
    settings: Settings,
) -> None:
    deps = RouterDeps.load(settings)
    watch = deps.watch(settings)
    before = deps.rules.version
    edit(settings.rules_file, 'version: "2026.1"', 'version: "2026.2"')
    edit(settings.rules_file, "lead: d01-sthj", "lead: d01-cgw")
    ok = reloads("router", "ok")

    with capture_logs() as logs:
        assert await watch.check() is True

    assert deps.rules.version.startswith("2026.2+") and deps.rules.version != before
    decision = route(deps.rules, deps.owners, category="environment.cooking_fume",
                     location=XINGFULI)  # fmt: skip
    assert decision.lead_owner_id == "d01-cgw"
    assert decision.ruleset_version == deps.rules.version
    assert reloads("router", "ok") == ok + 1
    assert refused("router") == 0
    assert logs[-1]["event"] == "config_reloaded"
    assert logs[-1]["rules_version"] == deps.rules.version


async def test_a_rules_edit_naming_an_unknown_owner_is_refused_and_routing_goes_on(
    settings: Settings,
) -> None:
    deps = RouterDeps.load(settings)
    watch = deps.watch(settings)
    good = deps.config
    edit(settings.rules_file, "lead: d01-sthj", "lead: d01-nobody")
    count = reloads("router", "refused")

    with capture_logs() as logs:
        assert await watch.check() is False

    assert deps.config is good
    decision = route(deps.rules, deps.owners, category="environment.cooking_fume",
                     location=XINGFULI)  # fmt: skip
    assert decision.lead_owner_id == "d01-sthj"
    assert reloads("router", "refused") == count + 1
    assert refused("router") == 1
    entry = logs[-1]
    assert entry["event"] == "config_refused" and entry["log_level"] == "error"
    assert entry["file"] == "rules.yaml"
    line = settings.rules_file.read_text(encoding="utf-8").splitlines()[entry["line"] - 1]
    assert "d01-nobody" in line
    assert "d01-nobody" in entry["reason"] and "名录" in entry["reason"]

    # Not retried while the file stays as it is; taken once it is put right.
    assert await watch.check() is None
    edit(settings.rules_file, "lead: d01-nobody", "lead: d01-sthj")
    assert await watch.check() is True
    assert refused("router") == 0


@pytest.mark.parametrize(
    ("which", "old", "new", "file"),
    [
        ("owners_file", "  - id: d01-cgw", "  - id: d01-cgw\n    bogus_field: 1", "owners.yaml"),
        ("rules_file", "rules:\n", "rules:\n  - [not, a, rule\n", "rules.yaml"),
        ("calendar_dir", "year: 2025", "year: 2024", "2025.yaml"),
    ],
)
async def test_a_broken_owners_rules_or_calendar_file_is_refused_with_its_file_and_line(
    settings: Settings, which: str, old: str, new: str, file: str
) -> None:
    deps = RouterDeps.load(settings)
    watch = deps.watch(settings)
    good = deps.config
    path = getattr(settings, which)
    edit(path / "2025.yaml" if path.is_dir() else path, old, new)

    with capture_logs() as logs:
        assert await watch.check() is False

    assert deps.config is good
    assert logs[-1]["event"] == "config_refused"
    assert logs[-1]["file"] == file
    assert logs[-1]["reason"]


async def test_escalation_takes_a_valid_owners_edit_and_refuses_a_bad_one(
    settings: Settings,
) -> None:
    deps = EscalationDeps.load(settings)
    watch = deps.watch(settings)
    edit(settings.owners_file, 'version: "2026.1"', 'version: "2026.9"')
    assert await watch.check() is True
    assert deps.owners.version.startswith("2026.9+")
    good = deps.config
    edit(settings.owners_file, "  - id: d01-cgw", "  - id: d01-cgw\n    bogus_field: 1")
    assert await watch.check() is False
    assert deps.config is good
    assert refused("escalation") == 1
