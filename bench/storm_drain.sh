#!/bin/bash
# Benchmark (not a test): a deadline storm on the running system, and how long what follows
# takes to drain. A fresh system is primed with BENCH_PRIME cases (default 10,000) end to
# end, so the router holds them and escalation has their acknowledgement clocks armed; then
# 10,000 of those clocks are made due at one instant and the script polls, every second,
# the clocks fired, the router's `escalated` timeline rows, the notifier's deliveries of
# `case.escalated` and escalation's unpublished outbox rows. The firing itself among
# 1,000,000 armed clocks with two scanners is bench/deadlines.py.
#
#   bash bench/storm_drain.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export BENCH_PRIME=${BENCH_PRIME:-10000}
bash bench/fresh.sh > /dev/null 2>&1
echo "primed $BENCH_PRIME cases"
sleep 10
P="bash deploy/stack.sh psql -d shaobao_bench -qAt -c"
echo "armed ack clocks: $($P "SELECT count(*) FROM escalation.deadlines WHERE kind='acknowledge' AND state='armed'")"
echo "before: timeline escalated $($P "SELECT count(*) FROM router.timeline WHERE action='escalated'") deliveries escalated $($P "SELECT count(*) FROM notifier.deliveries WHERE event_type='case.escalated'")"
uptime
T0=$($P "SELECT clock_timestamp()")
$P "UPDATE escalation.deadlines SET due_at = clock_timestamp(), next_at = clock_timestamp(), remind_at = NULL WHERE deadline_id IN (SELECT deadline_id FROM escalation.deadlines WHERE kind='acknowledge' AND state='armed' LIMIT 10000)"
echo "t0 $T0"
start=$(date +%s.%N)
for i in $(seq 1 60); do
  sleep 1
  line=$($P "SELECT (SELECT count(*) FROM escalation.deadlines WHERE kind='acknowledge' AND state='fired'), (SELECT count(*) FROM router.timeline WHERE action='escalated'), (SELECT count(*) FROM notifier.deliveries WHERE event_type='case.escalated'), (SELECT count(*) FROM escalation.outbox WHERE published_at IS NULL)")
  now=$(date +%s.%N)
  printf "%6.1f s fired|timeline|deliveries|unpublished: %s\n" "$(awk "BEGIN{print $now - $start}")" "$line"
done
echo "last timeline row: $($P "SELECT max(at) - '$T0'::timestamptz FROM router.timeline WHERE action='escalated'")"
echo "last delivery row: $($P "SELECT max(created_at) - '$T0'::timestamptz FROM notifier.deliveries WHERE event_type='case.escalated'")"
uptime
