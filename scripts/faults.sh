#!/usr/bin/env bash
# The fault suite on its own: prints the table (fault, cases accepted, lost, duplicated,
# time to recover) and where the services' logs and the full results are.
#
#   bash scripts/faults.sh                 # every fault, two of the HA phases (about 6 minutes)
#   bash scripts/faults.sh --ha            # the five HA phases only (cluster, pg_auto_failover)
#   bash scripts/faults.sh -k postgresql   # extra arguments go to pytest
#   SHAOBAO_FAULTS_KEEP=1 bash scripts/faults.sh   # leave servers, database, vhost to look at
#
# As root: the suite runs a PostgreSQL and a RabbitMQ of its own through deploy/stack.sh
# (state /var/lib/shaobao-faults, ports 26432 / 26672 / 26673 / 26692 / 26679, node
# shaobao-faults@localhost), because it stops and starts them; the shared development
# servers are never touched. The HA phases (tests/faults/ha) run a 3-node RabbitMQ cluster
# and a pg_auto_failover pair of their own the same way (deploy/stack.sh cluster; state
# /var/lib/shaobao-faults-ha, ports 28601-28642). Method and figures: docs/reliability.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export SHAOBAO_FAULTS_REPORT=${SHAOBAO_FAULTS_REPORT:-$(mktemp -t shaobao-faults.XXXXXX.json)}
export SHAOBAO_FAULTS_LOG_DIR=${SHAOBAO_FAULTS_LOG_DIR:-$(mktemp -d -t shaobao-faults-logs.XXXXXX)}
if [ "${1:-}" = --ha ]; then
  shift
  export SHAOBAO_FAULTS_HA_FULL=1
  set -- tests/faults/ha "$@"
else
  set -- tests/faults "$@"
fi
rc=0
uv run --frozen pytest -q -rfxX -p no:cacheprovider "$@" || rc=$?
echo "service logs: $SHAOBAO_FAULTS_LOG_DIR"
echo "results (JSON, per fault: answers, readiness samples, what was lost and why): $SHAOBAO_FAULTS_REPORT"
exit "$rc"
