#!/usr/bin/env bash
# A clean system for a benchmark run: the dev stack's servers, a fresh database and vhost
# (default shaobao_bench; the development data is left alone), migrated, and the four
# services restarted on 8001-8004 against them. Per-key rate limits are lifted (a load
# generator is one channel key sending far more than a hotline does) and no owner has a
# webhook endpoint, so deliveries are recorded (status no_endpoint) but nothing is sent.
#
# Then it primes the system as a running one is: BENCH_PRIME cases (default 3,000, 0 for
# none) go through end to end and the tables are analyzed. A fresh database's tables are
# empty, so the plans PostgreSQL caches for the services' prepared statements (after five
# runs it keeps a generic plan) scan them sequentially; autovacuum analyzes a table
# within a minute of its first 50 rows, which invalidates those plans, but a benchmark of
# the first minute measured the scans: intake's case-number lookup and the notifier's
# facts update read the whole table on every call (7.4 M and 3.9 M rows in one 35 s
# run at 500/s). A system that has run for a minute never has these plans.
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
# The installation's own secrets (deploy/stack.sh): the services on 8001-8004 never run on
# the public built-in ones, and the bench tools make their keys with the same pepper.
SECRET_LINES=$(bash deploy/stack.sh env | sed -n -E 's/^export (SHAOBAO_(PII_KEY|PSEUDONYM_KEY|KEY_PEPPER)=)/\1/p')
if [ "${1:-}" = env ]; then echo "$ENV_LINES"; echo "$SECRET_LINES"; exit 0; fi
bash deploy/stack.sh up >/dev/null
bash deploy/services.sh down >/dev/null
bash deploy/stack.sh psql -q -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB OWNER shaobao" >/dev/null
bash deploy/stack.sh mq-ctl delete_vhost "$DB" >/dev/null 2>&1 || true
bash deploy/stack.sh mq-ctl add_vhost "$DB" >/dev/null
bash deploy/stack.sh mq-ctl set_permissions -p "$DB" shaobao '.*' '.*' '.*' >/dev/null
# shellcheck disable=SC2046,SC2086
export $ENV_LINES $SECRET_LINES
uv run --frozen shaobao migrate >/dev/null
bash deploy/services.sh up
PRIME=${BENCH_PRIME:-3000}
if [ "$PRIME" -gt 0 ]; then
  uv run --frozen python -m bench.e2e --rate 300 --duration "$(((PRIME + 299) / 300))" --senders 1 --batch-ms 20 \
    | { grep -E "^dispatched" || true; } | sed 's/^/primed: /'
  bash deploy/stack.sh psql -d "$DB" -q -c "ANALYZE" >/dev/null
fi
echo "fresh system on database and vhost $DB; for the bench: export \$(bash bench/fresh.sh env)"
