#!/usr/bin/env bash
# Start, stop and inspect the four Shaobao services on this machine.
# Each runs as one uvicorn process (one worker per service on two cores), logs to
# .run/<service>.log and keeps its pid in .run/<service>.pid. Idempotent.
# --http shared.web.server:GuardedHttpToolsProtocol: slow clients are cut off (header and body
# deadlines, SHAOBAO_HTTP_*_TIMEOUT_SECONDS); tests/support/services.py starts them alike.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN_DIR=${SHAOBAO_RUN_DIR:-$PWD/.run}
mkdir -p "$RUN_DIR"
declare -A PORTS=([intake]=8001 [router]=8002 [escalation]=8003 [notifier]=8004)
SERVICES=(intake router escalation notifier)

running() { [ -f "$RUN_DIR/$1.pid" ] && kill -0 "$(cat "$RUN_DIR/$1.pid")" 2>/dev/null; }

start_one() {
  local svc=$1 port=${PORTS[$1]}
  if running "$svc"; then echo "$svc already running (pid $(cat "$RUN_DIR/$svc.pid"))"; return; fi
  nohup uv run --frozen uvicorn "services.$svc.app:create_app" --factory \
    --host 127.0.0.1 --port "$port" --http shared.web.server:GuardedHttpToolsProtocol \
    --loop uvloop --no-access-log \
    >>"$RUN_DIR/$svc.log" 2>&1 &
  echo $! >"$RUN_DIR/$svc.pid"
}

wait_ready() {
  local svc=$1 port=${PORTS[$1]}
  for _ in $(seq 1 120); do
    if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then echo "$svc ready on :$port"; return; fi
    running "$svc" || { echo "$svc exited; last log lines:" >&2; tail -20 "$RUN_DIR/$svc.log" >&2; return 1; }
    sleep 0.5
  done
  echo "$svc not ready after 60 s; see $RUN_DIR/$svc.log" >&2; return 1
}

stop_one() {
  local svc=$1
  if running "$svc"; then
    kill "$(cat "$RUN_DIR/$svc.pid")" 2>/dev/null || true
    for _ in $(seq 1 40); do running "$svc" || break; sleep 0.25; done
    running "$svc" && kill -9 "$(cat "$RUN_DIR/$svc.pid")" 2>/dev/null || true
    echo "$svc stopped"
  fi
  rm -f "$RUN_DIR/$svc.pid"
}

case "${1:-}" in
  up) for s in "${SERVICES[@]}"; do start_one "$s"; done; for s in "${SERVICES[@]}"; do wait_ready "$s"; done ;;
  down) for s in "${SERVICES[@]}"; do stop_one "$s"; done ;;
  status) for s in "${SERVICES[@]}"; do running "$s" && echo "$s up (pid $(cat "$RUN_DIR/$s.pid"))" || echo "$s down"; done ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
