#!/usr/bin/env bash
# Install what a fresh Debian machine with Python 3.11 lacks: curl, uv, and the locked
# Python dependencies (.venv). PostgreSQL and RabbitMQ are installed by deploy/stack.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v curl >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl
fi
if ! command -v uv >/dev/null; then
  python3 -m pip install --quiet uv
fi
uv sync --frozen --quiet
