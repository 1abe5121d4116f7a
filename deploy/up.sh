#!/usr/bin/env bash
# The one command: install what is missing, start PostgreSQL and RabbitMQ, migrate,
# start the four services and run a short demo. Safe to run again.
#
# The services run on this installation's own secrets (made by deploy/stack.sh on the
# first run, kept in $SHAOBAO_STATE_DIR/secrets.env, never printed); the notifier gets a
# service key of its own, made once and kept there too; and the demo's webhook receiver
# (127.0.0.1:8010) is the one local address the notifier is told it may call.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash deploy/stack.sh up
stack_env=$(bash deploy/stack.sh env)   # a failure here stops the run (set -e)
eval "$stack_env"
uv run --frozen shaobao migrate
if [ -z "${SHAOBAO_NOTIFIER_INTAKE_KEY:-}" ]; then
  uv run --frozen shaobao keys create --role service --label notifier \
    | bash deploy/stack.sh set-secret SHAOBAO_NOTIFIER_INTAKE_KEY
  stack_env=$(bash deploy/stack.sh env)
  eval "$stack_env"
fi
# No SMS gateway on a developer's machine: text messages to residents go to a local file
# (one JSON line each, the phone masked); the demo shows the one its resident gets.
export SHAOBAO_NOTIFIER_SMS_GATEWAY_URL=${SHAOBAO_NOTIFIER_SMS_GATEWAY_URL:-file://${SHAOBAO_STATE_DIR:-/var/lib/shaobao}/sms-outbox.jsonl}
export SHAOBAO_NOTIFIER_WEBHOOK_ALLOWED_HOSTS=${SHAOBAO_NOTIFIER_WEBHOOK_ALLOWED_HOSTS:-'["*", "127.0.0.1:8010"]'}
# Free-text work orders need a triage model: the first run trains one on the labelled
# sample, so the demo's free-text order routes (train your own: docs/operations.md "Triage").
models=${SHAOBAO_TRIAGE_MODELS_DIR:-${SHAOBAO_STATE_DIR:-/var/lib/shaobao}/models}
if ! ls "$models"/triage-*.joblib >/dev/null 2>&1; then
  uv run --frozen shaobao triage train --from tests/data/triage_sample.csv --out "$models"
fi
bash deploy/services.sh up
uv run --frozen shaobao demo
