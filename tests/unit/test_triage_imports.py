"""Starting a service or ``shaobao`` does not load scikit-learn (seconds of import time and
memory): the triage model is imported lazily, by whoever triages, when it triages."""

from __future__ import annotations

import subprocess
import sys

STARTS = (
    "shared.cli.main",
    "services.intake.app",
    "services.router.app",
    "services.escalation.app",
    "services.notifier.app",
)


def test_services_and_the_command_line_start_without_scikit_learn() -> None:
    code = (
        "import importlib, sys\n"
        f"for name in {STARTS!r}:\n"
        "    importlib.import_module(name)\n"
        "heavy = sorted(m for m in ('sklearn', 'scipy', 'rjieba', 'joblib') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
