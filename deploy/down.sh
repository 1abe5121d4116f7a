#!/usr/bin/env bash
# Stop the services, then PostgreSQL and RabbitMQ. Data stays in the state directory.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/services.sh down
bash deploy/stack.sh down
