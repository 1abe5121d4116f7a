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
bash scripts/audit.sh
uv run --frozen pytest "${@:--q}"
