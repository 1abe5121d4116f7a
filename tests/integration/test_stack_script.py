"""deploy/stack.sh: `up` is idempotent, `status` agrees, `env` gives the settings and
this installation's own secrets (made once, kept 0600, reused, exported only by `env`).

Runs the real script (as root, like scripts/test.sh does). It only starts what is not
running, so it is safe beside other tests using the same servers.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from shared.auth.keys import hash_secret
from shared.security.pii import petitioner_ref
from shared.settings import DEV_PII_KEY, DEV_SECRET, Settings
from tests.support.stack import StackUnderTest

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
    kept = Path(os.environ.get("SHAOBAO_STATE_DIR", "/var/lib/shaobao")) / "secrets.env"
    lines = kept.read_text().splitlines()
    values = [line.split("=", 1)[1] for line in lines if line.startswith("SHAOBAO_")]
    assert values and not any(v in first.stdout + first.stderr for v in values)

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


# --- this installation's secrets (a temporary SHAOBAO_STATE_DIR: no server is touched) ----

SECRET_NAMES = ("SHAOBAO_PII_KEY", "SHAOBAO_PSEUDONYM_KEY", "SHAOBAO_KEY_PEPPER")


def env_in(state: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), "env"],
        cwd=ROOT,
        env=os.environ | {"SHAOBAO_STATE_DIR": str(state)},
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )


def shell(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def exported(out: str) -> dict[str, str]:
    pairs = (line.removeprefix("export ").split("=", 1) for line in out.splitlines())
    return {name: value for name, value in pairs}


def test_the_first_env_makes_random_secrets_kept_0600_and_later_runs_reuse_them(
    tmp_path: Path,
) -> None:
    first = env_in(tmp_path / "state")
    assert first.returncode == 0, first.stderr
    secrets = {k: v for k, v in exported(first.stdout).items() if k in SECRET_NAMES}
    assert set(secrets) == set(SECRET_NAMES)
    kept = tmp_path / "state" / "secrets.env"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert all(f"{k}={v}" in kept.read_text() for k, v in secrets.items())
    assert first.stderr == "", "nothing but the exports: the secrets are never shown"
    # the services find the state dir (attachments live under it) from the same exports
    assert exported(first.stdout)["SHAOBAO_STATE_DIR"] == str(tmp_path / "state")

    again = env_in(tmp_path / "state")
    assert {k: exported(again.stdout)[k] for k in SECRET_NAMES} == secrets
    elsewhere = env_in(tmp_path / "other")
    assert all(exported(elsewhere.stdout)[k] != v for k, v in secrets.items())

    assert secrets["SHAOBAO_PII_KEY"] != DEV_PII_KEY
    Fernet(secrets["SHAOBAO_PII_KEY"].encode())  # a valid Fernet key
    settings = Settings(  # development: refuses the defaults, takes these
        environment="development",
        pii_key=secrets["SHAOBAO_PII_KEY"],
        pseudonym_key=secrets["SHAOBAO_PSEUDONYM_KEY"],
        key_pepper=secrets["SHAOBAO_KEY_PEPPER"],
    )
    phone = "13800001234"
    generated = petitioner_ref(
        settings.pseudonym_key.get_secret_value(), phone=phone, id_number=None
    )
    assert generated != petitioner_ref(DEV_SECRET, phone=phone, id_number=None)


def test_a_kept_secret_is_exported_and_read_from_stdin_only(tmp_path: Path) -> None:
    state = tmp_path / "state"
    put = subprocess.run(
        ["bash", str(SCRIPT), "set-secret", "SHAOBAO_NOTIFIER_INTAKE_KEY"],
        env=os.environ | {"SHAOBAO_STATE_DIR": str(state)},
        input="sbk_0123456789ab_secret-value\n", capture_output=True, text=True, timeout=10,
    )  # fmt: skip
    assert put.returncode == 0, put.stderr
    assert put.stdout == "" and "secret-value" not in put.stderr
    env = exported(env_in(state).stdout)
    assert env["SHAOBAO_NOTIFIER_INTAKE_KEY"] == "sbk_0123456789ab_secret-value"
    assert set(SECRET_NAMES) <= set(env)
    assert stat.S_IMODE((state / "secrets.env").stat().st_mode) == 0o600


async def test_the_cli_runs_on_the_generated_secrets_after_eval_and_refuses_without(
    tmp_path: Path, stack: StackUnderTest
) -> None:
    """``eval "$(bash deploy/stack.sh env)"`` then ``shaobao keys create``: the key's hash
    is made with the generated pepper. Without the eval the command refuses the defaults.
    The shell is a development one (no SHAOBAO_ENVIRONMENT), on this session's database."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("SHAOBAO_")}
    base["SHAOBAO_STATE_DIR"] = str(tmp_path / "state")
    create = f"{sys.executable} -m shared.cli.main keys create --role ops --label secrets-test"
    with_env = (
        f'eval "$(bash {SCRIPT} env)" && export SHAOBAO_DATABASE_URL={stack.database_url}'
        f' && {create} && echo "pepper=$SHAOBAO_KEY_PEPPER"'
    )
    made = shell(with_env, base)
    assert made.returncode == 0, made.stderr
    key, pepper_line = made.stdout.split()
    pepper = pepper_line.removeprefix("pepper=")
    assert pepper != DEV_SECRET and len(pepper) >= 32
    prefix, secret = key.split("_")[1:]
    stored = await stack.fetchval(
        "SELECT secret_hash FROM platform.api_keys WHERE prefix = $1", prefix
    )
    assert bytes(stored) == hash_secret(pepper, secret)

    refused = shell(f"export SHAOBAO_DATABASE_URL={stack.database_url} && {create}", base)
    assert refused.returncode != 0 and refused.stdout == ""
    assert "default secret refused outside the test suite" in refused.stderr
