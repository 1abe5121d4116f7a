#!/usr/bin/env bash
# A clean system for a benchmark run: the dev stack's servers, a fresh database and vhost
# (default shaobao_bench; the development data is left alone), migrated, and the four
# services restarted on 8001-8004 against them. Per-key rate limits are lifted (a load
# generator is one channel key sending far more than a hotline does) and no owner has a
# webhook endpoint, so deliveries are recorded (status no_endpoint) but nothing is sent.
#
#   bash bench/fresh.sh            # then, in the same shell or with `eval "$(bash bench/fresh.sh env)"`:
#   export $(bash bench/fresh.sh env) && uv run python -m bench.e2e --cases 20000 --rate 500
set -euo pipefail
cd "$(dirname "$0")/.."
DB=${BENCH_DB:-shaobao_bench}
ENV_LINES="SHAOBAO_DATABASE_URL=postgresql+asyncpg://shaobao:shaobao@127.0.0.1:55432/$DB
SHAOBAO_AMQP_URL=amqp://shaobao:shaobao@127.0.0.1:55672/$DB
SHAOBAO_RATE_LIMIT_PER_SECOND=100000
SHAOBAO_RATE_LIMIT_BURST=100000"
if [ "${1:-}" = env ]; then echo "$ENV_LINES"; exit 0; fi
bash deploy/stack.sh up >/dev/null
bash deploy/services.sh down >/dev/null
bash deploy/stack.sh psql -q -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB OWNER shaobao" >/dev/null
bash deploy/stack.sh mq-ctl delete_vhost "$DB" >/dev/null 2>&1 || true
bash deploy/stack.sh mq-ctl add_vhost "$DB" >/dev/null
bash deploy/stack.sh mq-ctl set_permissions -p "$DB" shaobao '.*' '.*' '.*' >/dev/null
# shellcheck disable=SC2046
export $ENV_LINES
uv run --frozen shaobao migrate >/dev/null
bash deploy/services.sh up
echo "fresh system on database and vhost $DB; for the bench: export \$(bash bench/fresh.sh env)"
