#!/usr/bin/env bash
# The one command: install what is missing, start PostgreSQL and RabbitMQ, migrate,
# start the four services and run a short demo. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash deploy/stack.sh up
eval "$(bash deploy/stack.sh env)"
uv run --frozen shaobao migrate
bash deploy/services.sh up
uv run --frozen shaobao demo
