#!/usr/bin/env bash
# PostgreSQL and RabbitMQ for Shaobao on this machine: installed from Debian's packages
# when missing, run on loopback on the project's own ports with data directories the
# project owns, started and stopped idempotently.
#
# Decisions:
# - State lives in $SHAOBAO_STATE_DIR (default /var/lib/shaobao), outside the checkout:
#   CI clones into a root-only temporary directory the postgres user cannot enter.
# - PostgreSQL refuses to run as root, so initdb/pg_ctl run as the postgres user.
# - RabbitMQ's /usr/sbin wrapper switches to the rabbitmq user (another Erlang cookie);
#   we run the server and rabbitmqctl from /usr/lib/rabbitmq/bin as root instead, with
#   RABBITMQ_* variables pointing into the state directory and our own node name and ports.
set -euo pipefail

STATE=${SHAOBAO_STATE_DIR:-/var/lib/shaobao}
PG_PORT=${SHAOBAO_PG_PORT:-55432}
AMQP_PORT=${SHAOBAO_AMQP_PORT:-55672}
MGMT_PORT=${SHAOBAO_MQ_MGMT_PORT:-55673}
PROM_PORT=${SHAOBAO_MQ_PROM_PORT:-55692}
DIST_PORT=${SHAOBAO_MQ_DIST_PORT:-55679}
NODE=${SHAOBAO_MQ_NODE:-shaobao@localhost}
PG_BIN=${SHAOBAO_PG_BIN:-/usr/lib/postgresql/15/bin}
MQ_BIN=/usr/lib/rabbitmq/bin
PG_DATA=$STATE/pg
MQ_DIR=$STATE/rabbitmq

log() { printf '[stack] %s\n' "$*"; }

apt_install() {
  if [ -z "${_APT_UPDATED:-}" ]; then apt-get update -qq; _APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

install_missing() {
  local need=()
  [ -x "$PG_BIN/pg_ctl" ] || need+=(postgresql)
  [ -x "$MQ_BIN/rabbitmq-server" ] || need+=(rabbitmq-server)
  command -v curl >/dev/null || need+=(curl)
  if [ ${#need[@]} -gt 0 ]; then log "installing ${need[*]}"; apt_install "${need[@]}"; fi
}

as_pg() { su postgres -s /bin/sh -c "$*"; }

pg_running() { as_pg "$PG_BIN/pg_ctl -D $PG_DATA status" >/dev/null 2>&1; }

pg_init() {
  [ -f "$PG_DATA/PG_VERSION" ] && return
  log "initialising PostgreSQL in $PG_DATA"
  mkdir -p "$PG_DATA"
  chown -R postgres:postgres "$STATE/pg" && chmod 700 "$PG_DATA"
  as_pg "$PG_BIN/initdb -D $PG_DATA -U postgres -A trust -E UTF8 --locale=C.UTF-8" >/dev/null
  cat >>"$PG_DATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_DATA'
max_connections = 300
shared_buffers = 256MB
fsync = on
synchronous_commit = on
CONF
  cat >"$PG_DATA/pg_hba.conf" <<HBA
local all postgres trust
host  all all 127.0.0.1/32 scram-sha-256
host  all all ::1/128 scram-sha-256
HBA
}

pg_start() {
  install_missing
  mkdir -p "$STATE" && chmod 755 "$STATE"
  pg_init
  if ! pg_running; then
    touch "$STATE/pg.log" && chown postgres "$STATE/pg.log"
    as_pg "$PG_BIN/pg_ctl -D $PG_DATA -l $STATE/pg.log -w -t 60 start" >/dev/null
  fi
  as_pg "psql -h $PG_DATA -p $PG_PORT -U postgres -tAc \"SELECT 1 FROM pg_roles WHERE rolname='shaobao'\"" | grep -q 1 ||
    as_pg "psql -h $PG_DATA -p $PG_PORT -U postgres -qc \"CREATE ROLE shaobao LOGIN CREATEDB PASSWORD 'shaobao'\""
  as_pg "psql -h $PG_DATA -p $PG_PORT -U postgres -tAc \"SELECT 1 FROM pg_database WHERE datname='shaobao'\"" | grep -q 1 ||
    as_pg "psql -h $PG_DATA -p $PG_PORT -U postgres -qc \"CREATE DATABASE shaobao OWNER shaobao\""
  log "PostgreSQL ready on 127.0.0.1:$PG_PORT"
}

pg_stop() {
  if [ -f "$PG_DATA/PG_VERSION" ] && pg_running; then
    as_pg "$PG_BIN/pg_ctl -D $PG_DATA -m fast -w stop" >/dev/null
    log "PostgreSQL stopped"
  fi
}

mq_env() {
  export RABBITMQ_MNESIA_BASE=$MQ_DIR/mnesia RABBITMQ_LOG_BASE=$MQ_DIR/log
  export RABBITMQ_NODENAME=$NODE RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=$AMQP_PORT
  export RABBITMQ_DIST_PORT=$DIST_PORT RABBITMQ_PID_FILE=$MQ_DIR/rabbitmq.pid
  export RABBITMQ_CONFIG_FILE=$MQ_DIR/rabbitmq.conf RABBITMQ_ENABLED_PLUGINS_FILE=$MQ_DIR/enabled_plugins
  export HOME=${HOME:-/root}
}

ctl() { mq_env; "$MQ_BIN/rabbitmqctl" -n "$NODE" "$@"; }

mq_running() { ctl status >/dev/null 2>&1; }

mq_config() {
  mkdir -p "$MQ_DIR/mnesia" "$MQ_DIR/log"
  cat >"$MQ_DIR/rabbitmq.conf" <<CONF
listeners.tcp.1 = 127.0.0.1:$AMQP_PORT
management.tcp.ip = 127.0.0.1
management.tcp.port = $MGMT_PORT
prometheus.tcp.ip = 127.0.0.1
prometheus.tcp.port = $PROM_PORT
loopback_users = none
raft.wal_max_size_bytes = 67108864
vm_memory_high_watermark.absolute = 1GB
CONF
  echo '[rabbitmq_management,rabbitmq_prometheus].' >"$MQ_DIR/enabled_plugins"
}

mq_await() {
  # await_startup fails at once until the node has registered, so poll first.
  for _ in $(seq 1 120); do
    if "$MQ_BIN/rabbitmqctl" -n "$NODE" await_startup --timeout 60 >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  return 1
}

mq_start() {
  install_missing
  mq_config
  if ! mq_running; then
    mq_env
    nohup "$MQ_BIN/rabbitmq-server" >>"$MQ_DIR/log/console.log" 2>&1 &
    mq_await || { log "RabbitMQ did not start; see $MQ_DIR/log"; tail -20 "$MQ_DIR/log/console.log" >&2; exit 1; }
  fi
  ctl list_users -q 2>/dev/null | grep -q '^shaobao' || {
    ctl add_user shaobao shaobao >/dev/null
    ctl set_user_tags shaobao administrator >/dev/null
  }
  ctl set_permissions -p / shaobao '.*' '.*' '.*' >/dev/null
  log "RabbitMQ ready on 127.0.0.1:$AMQP_PORT (management :$MGMT_PORT, prometheus :$PROM_PORT)"
}

mq_stop() {
  if mq_running; then
    ctl stop >/dev/null 2>&1 || true
    log "RabbitMQ stopped"
  fi
}

print_env() {
  cat <<ENV
export SHAOBAO_DATABASE_URL=postgresql+asyncpg://shaobao:shaobao@127.0.0.1:$PG_PORT/shaobao
export SHAOBAO_AMQP_URL=amqp://shaobao:shaobao@127.0.0.1:$AMQP_PORT/
export SHAOBAO_MQ_MANAGEMENT_URL=http://127.0.0.1:$MGMT_PORT
export SHAOBAO_PG_PORT=$PG_PORT
export SHAOBAO_AMQP_PORT=$AMQP_PORT
ENV
}

case "${1:-}" in
  up) pg_start; mq_start ;;
  down) mq_stop; pg_stop ;;
  status)
    ok=0
    if [ -f "$PG_DATA/PG_VERSION" ] && pg_running; then echo "postgresql: up (127.0.0.1:$PG_PORT)"; else echo "postgresql: down"; ok=1; fi
    if [ -x "$MQ_BIN/rabbitmqctl" ] && mq_running; then echo "rabbitmq: up (127.0.0.1:$AMQP_PORT)"; else echo "rabbitmq: down"; ok=1; fi
    exit $ok ;;
  env) print_env ;;
  pg-start) pg_start ;;
  pg-stop) pg_stop ;;
  mq-start) mq_start ;;
  mq-stop) mq_stop ;;
  *) echo "usage: $0 up|down|status|env|pg-start|pg-stop|mq-start|mq-stop" >&2; exit 2 ;;
esac
