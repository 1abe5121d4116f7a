#!/usr/bin/env bash
# PostgreSQL and RabbitMQ for Shaobao on one Debian machine, as root.
#
#   bash deploy/stack.sh up | down | status | env
#   printf %s VALUE | bash deploy/stack.sh set-secret SHAOBAO_NAME   keep one more secret
#   bash deploy/stack.sh pg-start | pg-stop [fast|immediate] | mq-start | mq-stop
#   bash deploy/stack.sh psql [ARGS]      psql as the postgres superuser (local socket)
#   bash deploy/stack.sh mq-ctl ARGS      rabbitmqctl against our node
#   bash deploy/stack.sh cluster ARGS     the high-availability stack (deploy/cluster.sh)
#
# Decisions:
# - Servers come from Debian's packages (installed only when missing, `apt-get update` at
#   most once, never upgrading what is installed) and run on loopback on the project's own
#   ports, beside any system instance:
#   PostgreSQL 127.0.0.1:55432; RabbitMQ AMQP :55672, management :55673, prometheus
#   :55692, Erlang distribution :55679 (the default, AMQP port + 20000, would not fit).
# - All state lives in $SHAOBAO_STATE_DIR (default /var/lib/shaobao), not in the
#   checkout: CI clones into a root-only 0700 directory that the postgres user cannot
#   enter. For the same reason every command run as postgres starts in `/`, and files from
#   the checkout are read by root (rendered into the state dir, or fed on stdin).
# - PostgreSQL refuses to run as root: initdb/pg_ctl/psql run as `postgres` on a data
#   directory it owns. postgresql.conf stays as initdb wrote it plus one include line;
#   our settings (deploy/postgres/shaobao.conf.template) and pg_hba.conf are rewritten
#   before every start, so the templates are the truth. The socket is in the data dir.
# - RabbitMQ: the /usr/sbin wrapper switches to the rabbitmq user, so we run the server
#   script in /usr/lib/rabbitmq/bin as root, with RABBITMQ_* variables pointing into the
#   state dir (config, plugins, mnesia, logs, pid file) and node name shaobao@localhost
#   (independent of the hostname, so the mnesia dir survives a rename). HOME is the
#   state dir too, so server and rabbitmqctl always share one Erlang cookie whatever the
#   caller's HOME. The server runs in its own session (setsid), so killing the caller's
#   process group (a test timeout) does not kill it.
# - Everything is idempotent; mutating commands hold a lock ($STATE/.stack.lock) so
#   two concurrent `up`s do not both start a server. Children never inherit the lock.
# - Secrets: the first `up` or `env` makes this installation's own random secrets
#   (SHAOBAO_PII_KEY, SHAOBAO_PSEUDONYM_KEY, SHAOBAO_KEY_PEPPER) in $STATE/secrets.env,
#   mode 0600, kept with the data it protects and reused on every later run; `env`
#   exports them (for `eval`), nothing else prints them. The services refuse the built-in
#   defaults outside the test suite (shared/settings.py). Rotation: docs/operations.md.
set -euo pipefail

DEPLOY_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

STATE=${SHAOBAO_STATE_DIR:-/var/lib/shaobao}
PG_PORT=${SHAOBAO_PG_PORT:-55432}
AMQP_PORT=${SHAOBAO_AMQP_PORT:-55672}
MGMT_PORT=${SHAOBAO_MQ_MGMT_PORT:-55673}
PROM_PORT=${SHAOBAO_MQ_PROM_PORT:-55692}
DIST_PORT=${SHAOBAO_MQ_DIST_PORT:-55679}
NODE=${SHAOBAO_MQ_NODE:-shaobao@localhost}

PG_DATA=$STATE/pg
PG_LOG=$STATE/pg.log
PG_BIN=            # resolved by resolve_pg_bin
MQ_DIR=$STATE/rabbitmq
MQ_BIN=/usr/lib/rabbitmq/bin
MQ_LAUNCH_PID=

SECRETS=$STATE/secrets.env

APP_USER=shaobao
APP_PASSWORD=shaobao
WAIT_SECONDS=${SHAOBAO_STACK_WAIT_SECONDS:-120}

# ---------------------------------------------------------------- helpers

log() { printf '%s\n' "$*"; }
die() { printf 'stack.sh: %s\n' "$*" >&2; exit 1; }

# Serialise mutating commands. fd 9 is closed for every server we launch (9>&-).
take_lock() {
  prepare_state_dir
  exec 9>"$STATE/.stack.lock"
  flock -w 600 9 || die "another deploy/stack.sh holds $STATE/.stack.lock"
}

prepare_state_dir() {
  mkdir -p "$STATE"
  chmod 755 "$STATE"   # postgres must traverse it to reach pg/
}

# render TEMPLATE DEST: copy, replacing @NAME@ placeholders; replace DEST atomically.
render() {
  sed -e "s|@PG_PORT@|$PG_PORT|g" -e "s|@PG_SOCKET_DIR@|$PG_DATA|g" \
      -e "s|@AMQP_PORT@|$AMQP_PORT|g" -e "s|@MGMT_PORT@|$MGMT_PORT|g" \
      -e "s|@PROM_PORT@|$PROM_PORT|g" "$1" >"$2.tmp"
  mv "$2.tmp" "$2"
}

tcp_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---------------------------------------------------------------- secrets

random_b64() { head -c "$1" /dev/urandom | base64 -w0 | tr '+/' '-_'; }

# Make the installation's secrets once. Written aside and hard-linked into place, so of two
# first runs at once one file wins and both use it; an existing file is never replaced.
ensure_secrets() {
  [ -s "$SECRETS" ] && return
  mkdir -p "$STATE" 2>/dev/null || die "cannot create $STATE for the secrets (run as root or set SHAOBAO_STATE_DIR)"
  local tmp
  tmp=$(umask 077 && mktemp "$STATE/.secrets.XXXXXX" 2>/dev/null) ||
    die "cannot write the secrets in $STATE (run as root or set SHAOBAO_STATE_DIR)"
  {
    printf '# Secrets of this Shaobao installation, made by deploy/stack.sh on %s.\n' "$(date -u +%FT%TZ)"
    printf '# Back them up with the data: without SHAOBAO_PII_KEY stored personal data is unreadable.\n'
    printf '# How to rotate each one: docs/operations.md, "Secrets".\n'
    printf 'SHAOBAO_PII_KEY=%s\n' "$(random_b64 32)"   # a Fernet key: 32 bytes, URL-safe base64
    printf 'SHAOBAO_PSEUDONYM_KEY=%s\n' "$(random_b64 48)"
    printf 'SHAOBAO_KEY_PEPPER=%s\n' "$(random_b64 48)"
  } >"$tmp"
  chmod 600 "$tmp"
  ln "$tmp" "$SECRETS" 2>/dev/null || true
  rm -f "$tmp"
  [ -s "$SECRETS" ] || die "could not keep the secrets in $SECRETS"
}

# The NAME=value lines of the secrets file (comments left out).
secret_lines() { grep -E '^SHAOBAO_[A-Z0-9_]+=' "$SECRETS" || true; }

# set-secret NAME: keep the value read from stdin (not argv: ps shows arguments) as NAME.
set_secret() {
  local name=$1 value tmp
  [[ "$name" =~ ^SHAOBAO_[A-Z0-9_]+$ ]] || die "set-secret: not a SHAOBAO_* name: $name"
  IFS= read -r value || [ -n "$value" ] || die "set-secret: no value on stdin"
  [[ "$value" =~ ^[A-Za-z0-9_.=,+/-]+$ ]] || die "set-secret: the value has characters a secret never has"
  ensure_secrets
  # A secrets file we cannot read must never be replaced by one line (that would lose the
  # PII key, and every encrypted contact with it): grep's 1 is "no such line", 2 an error.
  [ -r "$SECRETS" ] || die "set-secret: cannot read $SECRETS (run as root)"
  tmp=$(umask 077 && mktemp "$STATE/.secrets.XXXXXX")
  local rc=0
  { grep -v -E "^$name=" "$SECRETS" || rc=$?; printf '%s=%s\n' "$name" "$value"; } >"$tmp"
  if [ "$rc" -gt 1 ]; then rm -f "$tmp"; die "set-secret: could not copy $SECRETS"; fi
  chmod 600 "$tmp"
  mv "$tmp" "$SECRETS"
}

# ---------------------------------------------------------------- installation

APT_UPDATED=
apt_install() {
  if [ -z "$APT_UPDATED" ]; then
    log "installing $*"
    apt-get -o DPkg::Lock::Timeout=300 update -qq
    APT_UPDATED=1
  fi
  # --no-upgrade: never replace the binaries under a running server (a minor upgrade of
  # postgresql-15 makes the running postmaster fail to load plpgsql.so until restarted).
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-upgrade "$@" >/dev/null
}

# PostgreSQL binaries: the version of an existing cluster, else 15, else the newest.
resolve_pg_bin() {
  if [ -n "${SHAOBAO_PG_BIN:-}" ]; then PG_BIN=$SHAOBAO_PG_BIN; return; fi
  if [ -f "$PG_DATA/PG_VERSION" ]; then
    PG_BIN=/usr/lib/postgresql/$(cat "$PG_DATA/PG_VERSION")/bin
  elif [ -x /usr/lib/postgresql/15/bin/pg_ctl ]; then
    PG_BIN=/usr/lib/postgresql/15/bin
  else
    PG_BIN=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -n 1)
    PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
  fi
}

install_missing() {
  resolve_pg_bin
  local need=()
  if [ ! -x "$PG_BIN/pg_ctl" ]; then
    if [ -f "$PG_DATA/PG_VERSION" ]; then need+=("postgresql-$(cat "$PG_DATA/PG_VERSION")"); else need+=(postgresql); fi
  fi
  [ -x "$MQ_BIN/rabbitmq-server" ] || need+=(rabbitmq-server)
  command -v curl >/dev/null || need+=(curl)
  [ ${#need[@]} -eq 0 ] && return
  apt_install "${need[@]}"
  resolve_pg_bin
  [ -x "$PG_BIN/pg_ctl" ] || die "no pg_ctl in $PG_BIN after installing"
  [ -x "$MQ_BIN/rabbitmq-server" ] || die "no $MQ_BIN/rabbitmq-server after installing"
}

# ---------------------------------------------------------------- PostgreSQL

# Run a command as postgres from `/` (the caller's cwd may be a root-only directory).
as_postgres() { (cd / && runuser -u postgres -- "$@"); }

pg_ctl_() { as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" "$@"; }

pg_running() {
  [ -f "$PG_DATA/PG_VERSION" ] && id postgres >/dev/null 2>&1 && pg_ctl_ status >/dev/null 2>&1
}

pg_ready() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 2 >/dev/null 2>&1; }

pg_init_cluster() {
  [ -f "$PG_DATA/PG_VERSION" ] && return
  if [ -d "$PG_DATA" ] && [ -n "$(ls -A "$PG_DATA")" ]; then
    die "$PG_DATA is not empty but holds no cluster (an interrupted initdb?); move it away"
  fi
  log "initialising PostgreSQL cluster in $PG_DATA"
  install -d -o postgres -g postgres -m 700 "$PG_DATA"
  as_postgres "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust \
    --encoding=UTF8 --locale=C.UTF-8 >/dev/null
}

pg_write_config() {
  render "$DEPLOY_DIR/postgres/shaobao.conf.template" "$PG_DATA/shaobao.conf"
  cp "$DEPLOY_DIR/postgres/pg_hba.conf" "$PG_DATA/pg_hba.conf"
  local include="include_if_exists = 'shaobao.conf'"
  grep -qxF "$include" "$PG_DATA/postgresql.conf" ||
    printf '\n# Shaobao settings (deploy/stack.sh)\n%s\n' "$include" >>"$PG_DATA/postgresql.conf"
  chown postgres:postgres "$PG_DATA/shaobao.conf" "$PG_DATA/pg_hba.conf" "$PG_DATA/postgresql.conf"
  chmod 600 "$PG_DATA/shaobao.conf" "$PG_DATA/pg_hba.conf"
}

pg_wait_ready() {
  local deadline=$((SECONDS + WAIT_SECONDS))
  until pg_ready; do
    [ $SECONDS -lt $deadline ] || { tail -n 20 "$PG_LOG" >&2; die "PostgreSQL not accepting connections on 127.0.0.1:$PG_PORT"; }
    sleep 0.5
  done
}

# psql as the superuser over the socket in the data dir.
pg_psql() {
  as_postgres "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_DATA" -p "$PG_PORT" -U postgres -d postgres "$@"
}

# The packages were upgraded under a running server: it keeps running the old binary but
# loads new extension libraries (plpgsql) and fails. Only a restart fixes it.
pg_warn_version_skew() {
  local running installed
  running=$(pg_psql -Atc 'SHOW server_version' 2>/dev/null | cut -d' ' -f1) || return 0
  installed=$("$PG_BIN/postgres" --version | awk '{print $3}')
  [ -z "$running" ] || [ "$running" = "$installed" ] ||
    printf 'stack.sh: warning: PostgreSQL %s is running but %s is installed; restart it (pg-stop, pg-start)\n' \
      "$running" "$installed" >&2
}

pg_start() {
  install_missing
  pg_init_cluster
  if ! pg_running; then
    pg_write_config
    touch "$PG_LOG" && chown postgres:postgres "$PG_LOG"
    pg_ctl_ -l "$PG_LOG" -w -t "$WAIT_SECONDS" start >/dev/null 9>&- ||
      { tail -n 20 "$PG_LOG" >&2; die "PostgreSQL did not start; see $PG_LOG"; }
  fi
  pg_wait_ready
  pg_warn_version_skew
  pg_psql <"$DEPLOY_DIR/postgres/roles.sql" >/dev/null   # read by root, fed on stdin
  log "PostgreSQL ready on 127.0.0.1:$PG_PORT (database shaobao, data $PG_DATA)"
}

pg_stop() {
  local mode=${1:-fast}   # fast: clean shutdown; immediate: like a crash (recovery on start)
  resolve_pg_bin
  if pg_running; then
    pg_ctl_ -m "$mode" -w -t "$WAIT_SECONDS" stop >/dev/null
    log "PostgreSQL stopped ($mode)"
  else
    log "PostgreSQL was not running"
  fi
}

# ---------------------------------------------------------------- RabbitMQ

# The environment of our node, for the server and for every CLI tool.
mq_env() {
  export HOME=$MQ_DIR   # the Erlang cookie: $MQ_DIR/.erlang.cookie
  export RABBITMQ_NODENAME=$NODE
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=$AMQP_PORT
  export RABBITMQ_DIST_PORT=$DIST_PORT
  export RABBITMQ_CONF_ENV_FILE=$MQ_DIR/rabbitmq-env.conf   # not /etc/rabbitmq's
  export RABBITMQ_CONFIG_FILE=$MQ_DIR/rabbitmq.conf
  export RABBITMQ_ADVANCED_CONFIG_FILE=$MQ_DIR/advanced.config
  export RABBITMQ_ENABLED_PLUGINS_FILE=$MQ_DIR/enabled_plugins
  export RABBITMQ_MNESIA_BASE=$MQ_DIR/mnesia RABBITMQ_LOG_BASE=$MQ_DIR/log
  export RABBITMQ_PID_FILE=$MQ_DIR/rabbitmq.pid
  # Erlang distribution (epmd and the node's port) on loopback only.
  export ERL_EPMD_ADDRESS=127.0.0.1
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
}

mq_exec() { (mq_env && cd / && exec "$@"); }
ctl() { mq_exec "$MQ_BIN/rabbitmqctl" -q -n "$NODE" "$@"; }

mq_node_up() { [ -x "$MQ_BIN/rabbitmqctl" ] && ctl ping -t 10 >/dev/null 2>&1; }
mq_app_running() {
  [ -x "$MQ_BIN/rabbitmq-diagnostics" ] &&
    mq_exec "$MQ_BIN/rabbitmq-diagnostics" -q -n "$NODE" check_running >/dev/null 2>&1
}

mq_cookie() {
  local cookie=$MQ_DIR/.erlang.cookie value
  [ -s "$cookie" ] && return
  if [ -s "${HOME:-/root}/.erlang.cookie" ]; then
    # A node started before the cookie moved here used the caller's; keep talking to it.
    cp "${HOME:-/root}/.erlang.cookie" "$cookie"
  else
    # shellcheck disable=SC2019  # an Erlang cookie is plain ASCII letters
    value=$(head -c 600 /dev/urandom | LC_ALL=C tr -dc 'A-Z')
    printf '%s' "${value:0:20}" >"$cookie"
  fi
  chmod 400 "$cookie"
}

mq_prepare() {
  mkdir -p "$MQ_DIR/mnesia" "$MQ_DIR/log"
  chmod 700 "$MQ_DIR"
  mq_cookie
  render "$DEPLOY_DIR/rabbitmq/rabbitmq.conf.template" "$MQ_DIR/rabbitmq.conf"
  cp "$DEPLOY_DIR/rabbitmq/enabled_plugins" "$MQ_DIR/enabled_plugins"
  printf '# Empty on purpose: deploy/stack.sh sets RABBITMQ_* in the environment.\n' >"$MQ_DIR/rabbitmq-env.conf"
}

mq_launch() {
  (mq_env && cd / && exec setsid "$MQ_BIN/rabbitmq-server" </dev/null >>"$MQ_DIR/log/console.log" 2>&1 9>&-) &
  MQ_LAUNCH_PID=$!
}

mq_wait_booted() {
  local deadline=$((SECONDS + WAIT_SECONDS))
  # await_startup fails at once until the node has registered with epmd, hence the loop.
  until ctl await_startup --timeout 10 >/dev/null 2>&1; do
    if [ -n "$MQ_LAUNCH_PID" ] && ! kill -0 "$MQ_LAUNCH_PID" 2>/dev/null; then
      tail -n 30 "$MQ_DIR/log/console.log" >&2
      die "RabbitMQ exited while booting; see $MQ_DIR/log"
    fi
    [ $SECONDS -lt $deadline ] || die "RabbitMQ did not boot in ${WAIT_SECONDS}s; see $MQ_DIR/log"
    sleep 1
  done
}

mq_ensure_user() {
  local users
  users=$(ctl list_users --no-table-headers)
  if ! grep -q "^${APP_USER}[[:space:]]" <<<"$users"; then
    ctl add_user "$APP_USER" "$APP_PASSWORD" >/dev/null
  elif ! ctl authenticate_user "$APP_USER" "$APP_PASSWORD" >/dev/null 2>&1; then
    ctl change_password "$APP_USER" "$APP_PASSWORD" >/dev/null
  fi
  ctl set_user_tags "$APP_USER" administrator >/dev/null
  ctl set_permissions -p / "$APP_USER" '.*' '.*' '.*' >/dev/null
  if grep -q '^guest[[:space:]]' <<<"$users"; then ctl delete_user guest >/dev/null; fi
}

mq_wait_listeners() {
  local deadline=$((SECONDS + WAIT_SECONDS))
  until tcp_open "$AMQP_PORT" && tcp_open "$PROM_PORT" &&
      curl -fsS -o /dev/null -u "$APP_USER:$APP_PASSWORD" "http://127.0.0.1:$MGMT_PORT/api/overview" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || die "RabbitMQ listeners not answering on 127.0.0.1:$AMQP_PORT/$MGMT_PORT/$PROM_PORT"
    sleep 0.5
  done
}

mq_start() {
  install_missing
  mq_prepare
  if ! mq_node_up; then
    tcp_open "$AMQP_PORT" && die "127.0.0.1:$AMQP_PORT is taken by another process (not node $NODE)"
    mq_launch
  fi
  mq_wait_booted
  mq_ensure_user
  mq_wait_listeners
  log "RabbitMQ ready on 127.0.0.1:$AMQP_PORT (node $NODE, management :$MGMT_PORT, prometheus :$PROM_PORT)"
}

# The OS process from our pid file, if it is still a beam (a node that stopped answering).
mq_stray_pid() {
  local pid
  pid=$(cat "$MQ_DIR/rabbitmq.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && grep -q beam "/proc/$pid/cmdline" 2>/dev/null && printf '%s' "$pid"
}

mq_stop() {
  local pid
  if mq_node_up; then
    ctl shutdown >/dev/null   # returns once the OS process has exited
    log "RabbitMQ stopped"
  elif pid=$(mq_stray_pid); then
    kill -TERM "$pid"; kill -CONT "$pid" 2>/dev/null || true   # CONT: it may be SIGSTOPped
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    log "RabbitMQ stopped (unresponsive node $pid killed)"
  else
    log "RabbitMQ was not running"
  fi
}

# ---------------------------------------------------------------- commands

print_env() {
  local line
  ensure_secrets
  [ -r "$SECRETS" ] || die "cannot read $SECRETS (mode 0600): run as its owner (root)"
  cat <<ENV
export SHAOBAO_DATABASE_URL=postgresql+asyncpg://$APP_USER:$APP_PASSWORD@127.0.0.1:$PG_PORT/shaobao
export SHAOBAO_AMQP_URL=amqp://$APP_USER:$APP_PASSWORD@127.0.0.1:$AMQP_PORT/
export SHAOBAO_MQ_MANAGEMENT_URL=http://127.0.0.1:$MGMT_PORT
export SHAOBAO_PG_PORT=$PG_PORT
export SHAOBAO_AMQP_PORT=$AMQP_PORT
export SHAOBAO_STATE_DIR=$STATE
ENV
  while IFS= read -r line; do
    printf 'export %s=%q\n' "${line%%=*}" "${line#*=}"
  done < <(secret_lines)
}

status() {
  local rc=0
  resolve_pg_bin
  if pg_running && pg_ready; then
    log "postgresql: up (127.0.0.1:$PG_PORT, data $PG_DATA)"
  else
    log "postgresql: down"; rc=1
  fi
  if mq_app_running; then
    log "rabbitmq: up (127.0.0.1:$AMQP_PORT, node $NODE)"
  else
    log "rabbitmq: down"; rc=1
  fi
  return $rc
}

usage() {
  sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# deploy/cluster.sh sources this file for its helpers; the commands run only when executed.
[ "${BASH_SOURCE[0]}" = "$0" ] || return 0

[ "$(id -u)" -eq 0 ] || case "${1:-}" in env|set-secret|cluster) ;; *) die "run as root (PostgreSQL runs as postgres, RabbitMQ as root)" ;; esac

case "${1:-}" in
  up)       take_lock; ensure_secrets; pg_start; mq_start ;;
  down)     take_lock; mq_stop; pg_stop ;;
  status)   status ;;
  env)      print_env ;;
  set-secret) set_secret "${2:-}" ;;
  pg-start) take_lock; pg_start ;;
  pg-stop)  take_lock; pg_stop "${2:-fast}" ;;
  mq-start) take_lock; mq_start ;;
  mq-stop)  take_lock; mq_stop ;;
  psql)     shift; resolve_pg_bin; pg_psql "$@" ;;
  mq-ctl)   shift; ctl "$@" ;;
  cluster)  shift; exec bash "$DEPLOY_DIR/cluster.sh" "$@" ;;
  *)        usage ;;
esac
