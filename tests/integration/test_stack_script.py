"""deploy/stack.sh: `up` is idempotent, `status` agrees, `env` gives the settings.

Runs the real script (as root, like scripts/test.sh does). It only starts what is not
running, so it is safe beside other tests using the same servers.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="deploy/stack.sh runs servers as root"),
]

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "stack.sh"
PG_PORT = os.environ.get("SHAOBAO_PG_PORT", "55432")
AMQP_PORT = os.environ.get("SHAOBAO_AMQP_PORT", "55672")
MGMT_PORT = os.environ.get("SHAOBAO_MQ_MGMT_PORT", "55673")


def stack(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_up_is_idempotent_and_status_agrees() -> None:
    first = stack("up")
    assert first.returncode == 0, first.stderr
    assert "PostgreSQL ready" in first.stdout
    assert "RabbitMQ ready" in first.stdout

    started = time.monotonic()
    second = stack("up", timeout=60)
    assert second.returncode == 0, second.stderr
    # Nothing to start the second time: only checks and idempotent grants.
    assert time.monotonic() - started < 30

    status = stack("status", timeout=60)
    assert status.returncode == 0, status.stdout + status.stderr
    assert "postgresql: up" in status.stdout
    assert "rabbitmq: up" in status.stdout


def test_env_prints_the_settings_and_evaluates() -> None:
    env = stack("env", timeout=10)
    assert env.returncode == 0, env.stderr
    out = env.stdout
    database_url = f"postgresql+asyncpg://shaobao:shaobao@127.0.0.1:{PG_PORT}/shaobao"
    amqp_url = f"amqp://shaobao:shaobao@127.0.0.1:{AMQP_PORT}/"
    management_url = f"http://127.0.0.1:{MGMT_PORT}"
    assert f"export SHAOBAO_DATABASE_URL={database_url}" in out
    assert f"export SHAOBAO_AMQP_URL={amqp_url}" in out
    assert f"export SHAOBAO_MQ_MANAGEMENT_URL={management_url}" in out
    assert f"export SHAOBAO_PG_PORT={PG_PORT}" in out
    assert f"export SHAOBAO_AMQP_PORT={AMQP_PORT}" in out

    shell = subprocess.run(
        [
            "bash",
            "-c",
            f'eval "$(bash {SCRIPT} env)"; echo "$SHAOBAO_DATABASE_URL $SHAOBAO_AMQP_URL"',
        ],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    )
    assert shell.stdout.split() == [database_url, amqp_url]
