#!/usr/bin/env bash
# The high-availability stack (issue 24) on one Debian machine, as root: a 3-node RabbitMQ
# cluster and a PostgreSQL primary with a synchronous standby under pg_auto_failover.
#
#   bash deploy/stack.sh cluster up | down | status | env
#   bash deploy/stack.sh cluster mq-start N | mq-stop N | mq-pid N     one broker node (1-3)
#   bash deploy/stack.sh cluster pg-start N | pg-pgid N | pg-primary   one database node (1-2)
#   bash deploy/stack.sh cluster pg-switchover | pg-state | pg-ready
#
# Decisions:
# - Same servers as `stack.sh up` (Debian's rabbitmq-server and postgresql-15, plus
#   postgresql-15-auto-failover and pg-auto-failover-cli, installed when missing), on
#   loopback, on ports of their own below the ephemeral range, from SHAOBAO_HA_BASE_PORT
#   (B, default 27600): RabbitMQ node N (shaobao-haN@localhost) AMQP B+N, management
#   B+10+N, prometheus B+20+N, Erlang distribution B+30+N; the pg_auto_failover monitor
#   B+40 and PostgreSQL node N B+40+N. The one-node stack's ports are untouched.
# - State in $SHAOBAO_HA_STATE_DIR (default $SHAOBAO_STATE_DIR/ha): rabbitmq/nodeN (each
#   node's config, mnesia, logs; one Erlang cookie shared by the three, made here) and
#   pg/{monitor,node1,node2} with pg_autoctl's own files under pg/ (XDG_* point there).
# - RabbitMQ: the nodes start together (a clustered node waits for its peers at boot);
#   nodes 2 and 3 join node 1 once. Services declare quorum queues; every queue gets a
#   member on each node (`rabbitmq-queues grow` after every `up`), so any one node may die.
# - PostgreSQL: pg_auto_failover's monitor decides; each node runs `pg_autoctl run` (the
#   keeper, which runs postgres) in a session of its own, so `kill -KILL -- -PGID` ends a
#   whole node like a machine dying. With two data nodes pg_auto_failover keeps
#   synchronous_standby_names = 'ANY 1 (...)' while the standby is healthy: an answered
#   commit is on both. Failure detection is tuned for loopback (health check every second,
#   unhealthy after 3 s, the primary's demote timeout 8 s > the keepers' 5 s partition
#   timeout): a failover takes about 11 s instead of about 33 s.
# - The application's role and database come from the same roles.sql as the one-node stack;
#   pg_hba.ha.conf and ha.conf are copied into every node before every start.
set -euo pipefail

# shellcheck source=deploy/stack.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/stack.sh"

HA=${SHAOBAO_HA_STATE_DIR:-$STATE/ha}
BASE=${SHAOBAO_HA_BASE_PORT:-27600}
PREFIX=${SHAOBAO_HA_NODE_PREFIX:-shaobao-ha}
MQ_NODES=(1 2 3)
PG_NODES=(1 2)
PG_HA=$HA/pg
MON_PORT=$((BASE + 40))
MONITOR_URL="postgres://autoctl_node@127.0.0.1:$MON_PORT/pg_auto_failover?sslmode=disable"
declare -A MQ_LAUNCHED=()

ha_lock() {
  mkdir -p "$HA" && chmod 755 "$HA"
  exec 9>"$HA/.cluster.lock"   # fd 9: stack.sh closes it for every server it launches
  flock -w 600 9 || die "another deploy/cluster.sh holds $HA/.cluster.lock"
}

# ---------------------------------------------------------------- RabbitMQ

# Point stack.sh's RabbitMQ helpers (mq_env, ctl, mq_launch, ...) at node N.
mq_node() {
  NODE=$PREFIX$1@localhost MQ_DIR=$HA/rabbitmq/node$1
  AMQP_PORT=$((BASE + $1)) MGMT_PORT=$((BASE + 10 + $1))
  PROM_PORT=$((BASE + 20 + $1)) DIST_PORT=$((BASE + 30 + $1))
  MQ_LAUNCH_PID=${MQ_LAUNCHED[$1]:-}
}

# One Erlang cookie for the three nodes, made once, copied into each node's HOME.
mq_cluster_cookie() {
  mkdir -p "$HA/rabbitmq" && chmod 700 "$HA/rabbitmq"
  (MQ_DIR=$HA/rabbitmq HOME=/nonexistent && mq_cookie)
  mkdir -p "$MQ_DIR"
  [ -s "$MQ_DIR/.erlang.cookie" ] || install -m 400 "$HA/rabbitmq/.erlang.cookie" "$MQ_DIR/.erlang.cookie"
}

mq_node_prepare() {
  mq_node "$1"
  mq_cluster_cookie
  mq_prepare
  cat "$DEPLOY_DIR/rabbitmq/cluster.conf" >>"$MQ_DIR/rabbitmq.conf"
}

mq_node_start() {
  mq_node_prepare "$1"
  if ! mq_node_up; then
    tcp_open "$AMQP_PORT" && die "127.0.0.1:$AMQP_PORT is taken by another process (not node $NODE)"
    mq_launch
    MQ_LAUNCHED[$1]=$MQ_LAUNCH_PID
  fi
}

# Nodes 2 and 3 join node 1 once (their first boot); a member stays one across restarts.
mq_join() {
  local first=${PREFIX}1@localhost
  mq_node "$1"
  ctl cluster_status --formatter json | grep -q "\"$first\"" && return
  log "RabbitMQ $NODE joins $first"
  ctl stop_app >/dev/null
  ctl join_cluster "$first" >/dev/null
  ctl start_app >/dev/null
}

# Wait for node N to boot; start it again (twice at most) if it exits while booting:
# RabbitMQ 3.10 may crash a node whose peers are booting at the same moment
# (incompatible_feature_flags, badmap), seen after a `down` of the whole cluster.
mq_boot() {
  local tries
  mq_node "$1"
  for tries in 1 2 3; do
    (mq_wait_booted) && return
    [ "$tries" -lt 3 ] || die "RabbitMQ $NODE did not boot; see $MQ_DIR/log"
    log "RabbitMQ $NODE exited while booting; starting it again"
    sleep 2
    mq_launch
    MQ_LAUNCHED[$1]=$MQ_LAUNCH_PID
  done
}

mq_cluster_up() {
  local n
  for n in "${MQ_NODES[@]}"; do mq_node_start "$n"; done
  for n in "${MQ_NODES[@]}"; do mq_boot "$n"; done
  for n in "${MQ_NODES[@]:1}"; do mq_join "$n"; done
  mq_node 1
  mq_ensure_user
  for n in "${MQ_NODES[@]}"; do
    mq_node "$n"
    mq_wait_listeners
    # Every quorum queue of every vhost gets a member here (a no-op for those that have one).
    mq_exec "$MQ_BIN/rabbitmq-queues" -q -n "$NODE" grow "$NODE" all >/dev/null
  done
  log "RabbitMQ cluster ready: $(mq_urls)"
}

mq_urls() {
  local n urls=()
  for n in "${MQ_NODES[@]}"; do urls+=("amqp://$APP_USER:$APP_PASSWORD@127.0.0.1:$((BASE + n))/"); done
  (IFS=,; printf '%s' "${urls[*]}")
}

# ---------------------------------------------------------------- PostgreSQL

pg_node_dir() { [ "$1" = monitor ] && printf '%s' "$PG_HA/monitor" || printf '%s' "$PG_HA/node$1"; }

# pg_autoctl as postgres, its configuration and state under $PG_HA.
autoctl_env() {
  printf '%s\n' env -i "HOME=$PG_HA" "XDG_CONFIG_HOME=$PG_HA/config" "XDG_DATA_HOME=$PG_HA/share" \
    "XDG_RUNTIME_DIR=$PG_HA/run" "PATH=$PG_BIN:/usr/bin:/bin" LANG=C.UTF-8
}
autoctl() {
  local envv; mapfile -t envv < <(autoctl_env)
  (cd / && setpriv --reuid=postgres --regid=postgres --init-groups "${envv[@]}" pg_autoctl "$@")
}

pg_ha_install() {
  install_missing
  [ -x /usr/bin/pg_autoctl ] && [ -f "$PG_BIN/../lib/pgautofailover.so" ] && return
  local v; v=$(basename "$(dirname "$PG_BIN")")
  apt_install "postgresql-$v-auto-failover" pg-auto-failover-cli
}

pg_ha_prepare() {
  mkdir -p "$PG_HA"/{config,share,run}
  chown postgres:postgres "$PG_HA" "$PG_HA"/{config,share,run}
  chmod 700 "$PG_HA"
}

# Our files into a data node before each start (pg_auto_failover leaves pg_hba.conf to us).
pg_node_files() {
  local dir; dir=$(pg_node_dir "$1")
  install -o postgres -g postgres -m 600 "$DEPLOY_DIR/postgres/pg_hba.ha.conf" "$dir/pg_hba.conf"
  install -o postgres -g postgres -m 600 "$DEPLOY_DIR/postgres/ha.conf" "$dir/shaobao-ha.conf"
  local include="include_if_exists = 'shaobao-ha.conf'"
  grep -qxF "$include" "$dir/postgresql.conf" || printf '\n%s\n' "$include" >>"$dir/postgresql.conf"
  autoctl config set --pgdata "$dir" postgresql.hba_level skip >/dev/null
  autoctl config set --pgdata "$dir" timeout.network_partition_timeout 5 >/dev/null
}

pg_node_running() { [ -s "$PG_HA/$1.pgid" ] && kill -0 -- "-$(cat "$PG_HA/$1.pgid")" 2>/dev/null; }

# `pg_autoctl run` for a node (or the monitor) in a session of its own: its pgid is its pid.
pg_node_launch() {
  local name=$1 dir envv; dir=$(pg_node_dir "$1")
  pg_node_running "$name" && return
  mapfile -t envv < <(autoctl_env)
  (cd / && exec setsid setpriv --reuid=postgres --regid=postgres --init-groups "${envv[@]}" \
      pg_autoctl run --pgdata "$dir" </dev/null >>"$PG_HA/$name.log" 2>&1 9>&-) &
  printf '%s' "$!" >"$PG_HA/$name.pgid"
}

mon_psql() { as_postgres "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h /var/run/postgresql -p "$MON_PORT" -d pg_auto_failover "$@"; }

pg_monitor_up() {
  local dir=$PG_HA/monitor
  if [ ! -f "$dir/PG_VERSION" ]; then
    log "creating the pg_auto_failover monitor in $dir"
    autoctl create monitor --pgdata "$dir" --pgport "$MON_PORT" --hostname 127.0.0.1 \
      --auth trust --no-ssl --pgctl "$PG_BIN/pg_ctl" >>"$PG_HA/monitor.log" 2>&1
    autoctl config set --pgdata "$dir" postgresql.listen_addresses 127.0.0.1 >/dev/null
  fi
  pg_node_launch monitor
  wait_for "the monitor on :$MON_PORT" mon_psql -Atc 'SELECT 1'
  mon_psql <<'SQL' >/dev/null
ALTER SYSTEM SET pgautofailover.health_check_period = 1000;
ALTER SYSTEM SET pgautofailover.health_check_timeout = 1000;
ALTER SYSTEM SET pgautofailover.health_check_retry_delay = 500;
ALTER SYSTEM SET pgautofailover.health_check_max_retries = 1;
ALTER SYSTEM SET pgautofailover.node_considered_unhealthy_timeout = 3000;
ALTER SYSTEM SET pgautofailover.primary_demote_timeout = 8000;
SELECT pg_reload_conf();
SQL
}

pg_node_create() {
  local n=$1 dir; dir=$(pg_node_dir "$1")
  [ -f "$dir/PG_VERSION" ] && return
  log "creating PostgreSQL node $n in $dir"
  autoctl create postgres --pgdata "$dir" --pgport "$((MON_PORT + n))" --listen 127.0.0.1 \
    --hostname 127.0.0.1 --name "node$n" --monitor "$MONITOR_URL" --skip-pg-hba --no-ssl \
    --dbname shaobao --pgctl "$PG_BIN/pg_ctl" >>"$PG_HA/node$n.log" 2>&1 ||
    { tail -n 20 "$PG_HA/node$n.log" >&2; die "pg_autoctl create postgres failed for node $n"; }
}

pg_node_up() { pg_node_create "$1"; pg_node_files "$1"; pg_node_launch "$1"; }

# Rows "name|reported state|assigned state" from the monitor.
pg_states() {
  mon_psql -Atc "SELECT nodename, reportedstate, goalstate FROM pgautofailover.node ORDER BY nodeid"
}
pg_settled() {  # a primary and a secondary, each in the state it was assigned, both answering
  local s n; s=$(pg_states) || return 1
  grep -q '|primary|primary$' <<<"$s" && grep -q '|secondary|secondary$' <<<"$s" || return 1
  for n in "${PG_NODES[@]}"; do
    "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$((MON_PORT + n))" -t 2 || return 1
  done
}
pg_primary() {  # the node number of the primary (read-write) node
  mon_psql -Atc "SELECT substr(nodename, 5) FROM pgautofailover.node WHERE reportedstate
    IN ('primary', 'wait_primary', 'single') AND goalstate = reportedstate LIMIT 1"
}

pg_cluster_up() {
  pg_ha_install
  pg_ha_prepare
  pg_monitor_up
  pg_node_up 1
  wait_for "PostgreSQL node 1 to lead" pg_primary
  pg_node_up 2
  wait_for "a primary and a synchronous standby" pg_settled
  local primary; primary=$(pg_primary)
  as_postgres "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h /var/run/postgresql \
    -p "$((MON_PORT + primary))" -d postgres <"$DEPLOY_DIR/postgres/roles.sql" >/dev/null
  log "PostgreSQL pair ready: primary node $primary; $(pg_dsn)"
}

pg_dsn() {
  printf 'postgresql+asyncpg://%s:%s@127.0.0.1:%s,127.0.0.1:%s/shaobao?target_session_attrs=read-write' \
    "$APP_USER" "$APP_PASSWORD" "$((MON_PORT + 1))" "$((MON_PORT + 2))"
}

pg_node_stop() {
  local name=$1 pgid
  pg_node_running "$name" || return 0
  pgid=$(cat "$PG_HA/$name.pgid")
  kill -TERM "$pgid"   # pg_autoctl stops its postgres (fast) and exits
  for _ in $(seq 1 60); do kill -0 -- "-$pgid" 2>/dev/null || break; sleep 0.5; done
  kill -KILL -- "-$pgid" 2>/dev/null || true
  rm -f "$PG_HA/$name.pgid"
}

# ---------------------------------------------------------------- commands

wait_for() {
  local what=$1 deadline=$((SECONDS + WAIT_SECONDS)); shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || die "timed out waiting for $what"
    sleep 0.5
  done
}

cluster_env() {
  print_env | grep -v -E '^export SHAOBAO_(DATABASE_URL|AMQP_URL|MQ_MANAGEMENT_URL|PG_PORT|AMQP_PORT)='
  printf 'export SHAOBAO_DATABASE_URL=%s\n' "$(pg_dsn)"
  printf 'export SHAOBAO_AMQP_URL=%s\n' "$(mq_urls)"
  printf 'export SHAOBAO_MQ_MANAGEMENT_URL=http://127.0.0.1:%s\n' "$((BASE + 11))"
}

cluster_status() {
  local n rc=0
  resolve_pg_bin
  for n in "${MQ_NODES[@]}"; do
    mq_node "$n"
    if mq_app_running; then log "rabbitmq $NODE: up (127.0.0.1:$AMQP_PORT)"; else log "rabbitmq $NODE: down"; rc=1; fi
  done
  for n in monitor "${PG_NODES[@]}"; do
    pg_node_running "$n" && log "pg_autoctl $n: running" || { log "pg_autoctl $n: down"; rc=1; }
  done
  pg_states 2>/dev/null | sed 's/^/postgresql /' || { log "postgresql monitor: not answering"; rc=1; }
  return $rc
}

cluster_down() {
  local n
  for n in "${MQ_NODES[@]}"; do mq_node "$n"; mq_stop; done
  resolve_pg_bin
  for n in "${PG_NODES[@]}" monitor; do pg_node_stop "$n"; done
  log "high-availability stack stopped"
}

node_arg() { [[ "${1:-}" =~ ^[1-3]$ ]] || die "a node number is needed (1-3 for RabbitMQ, 1-2 for PostgreSQL)"; }

[ "$(id -u)" -eq 0 ] || [ "${1:-}" = env ] || die "run as root"
case "${1:-}" in
  up)        ha_lock; ensure_secrets; mq_cluster_up; pg_cluster_up ;;
  down)      ha_lock; cluster_down ;;
  status)    cluster_status ;;
  env)       cluster_env ;;
  mq-start)  node_arg "${2:-}"; ha_lock; mq_node_start "$2"; mq_node "$2"; mq_wait_booted; mq_wait_listeners ;;
  mq-stop)   node_arg "${2:-}"; ha_lock; mq_node "$2"; mq_stop ;;
  mq-pid)    node_arg "${2:-}"; mq_node "$2"; mq_stray_pid ;;
  pg-start)  node_arg "${2:-}"; ha_lock; resolve_pg_bin; pg_node_files "$2"; pg_node_launch "$2" ;;
  pg-pgid)   node_arg "${2:-}"; pg_node_running "$2" && cat "$PG_HA/$2.pgid" ;;
  pg-primary) resolve_pg_bin; pg_primary ;;
  pg-ready)  resolve_pg_bin; pg_settled ;;
  pg-state)  resolve_pg_bin; pg_states ;;
  pg-switchover) resolve_pg_bin; autoctl perform switchover --pgdata "$PG_HA/monitor" --formation default --group 0 ;;
  *)         sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
