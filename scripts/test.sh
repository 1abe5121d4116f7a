#!/usr/bin/env bash
# Run every test on real servers: unit (no I/O), integration and end-to-end.
# Installs what is missing and starts PostgreSQL and RabbitMQ first. Extra arguments go
# to pytest (e.g. scripts/test.sh tests/unit -q).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash deploy/stack.sh up
# Headless Chromium (and a CJK font) for the console's browser test; without them that
# one test skips with its reason rather than failing the run.
if ! command -v chromium >/dev/null; then
  install_browser() {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-upgrade chromium fonts-wqy-microhei >/dev/null
  }
  install_browser || { apt-get update -qq && install_browser; } \
    || echo "chromium not installed: the console browser test will be skipped"
fi
uv run --frozen ruff check .
uv run --frozen lint-imports
uv run --frozen mypy shared services
# Dependency audit of uv.lock against PyPI's advisories: a known vulnerability fails the run
# unless scripts/pip-audit-ignore.txt lists it with its reason; --strict also fails when a
# package cannot be looked up. SHAOBAO_SKIP_PIP_AUDIT=1 skips it on a machine without PyPI.
if [ "${SHAOBAO_SKIP_PIP_AUDIT:-}" = 1 ]; then echo "pip-audit skipped (SHAOBAO_SKIP_PIP_AUDIT=1)"; else uv export --frozen --no-emit-project --all-groups | uv run --frozen pip-audit --strict --progress-spinner off --disable-pip --require-hashes -r /dev/stdin $(grep -oE '^[A-Z][A-Za-z0-9-]+' scripts/pip-audit-ignore.txt | sed 's/^/--ignore-vuln /'); fi
uv run --frozen pytest "${@:--q}"
