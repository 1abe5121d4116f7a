#!/usr/bin/env bash
# Run every test on real servers: unit (no I/O), integration and end-to-end.
# Installs what is missing and starts PostgreSQL and RabbitMQ first. Extra arguments go
# to pytest (e.g. scripts/test.sh tests/unit -q).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash deploy/stack.sh up
uv run --frozen ruff check .
uv run --frozen lint-imports
uv run --frozen pytest "${@:--q}"
