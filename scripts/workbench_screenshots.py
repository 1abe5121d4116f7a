"""Take the workbench's screenshots (docs/workbench/*.png) by running its browser tests
against a fresh test stack with ``SHAOBAO_SCREENSHOTS=1``.

    uv run python scripts/workbench_screenshots.py

Needs Debian's Chromium (``apt-get install -y chromium fonts-wqy-microhei``) and the
PostgreSQL/RabbitMQ servers of ``deploy/stack.sh up``. Look at the pictures afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ["tests/e2e/test_workbench_department.py", "tests/e2e/test_workbench_supervision.py"]


def main() -> int:
    env = os.environ | {"SHAOBAO_SCREENSHOTS": "1"}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", *TESTS], cwd=ROOT, env=env)
    print(f"screenshots in {ROOT / 'docs' / 'workbench'}")
    return done.returncode


if __name__ == "__main__":
    raise SystemExit(main())
