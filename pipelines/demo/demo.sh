#!/bin/sh
# The demo's operations, one per stage script of pipelines/demo.yml. Everything lives under
# $DEMO_DIR (default .pipeline/demo, in the working directory) and on 127.0.0.1.
#
#   demo.sh bootstrap          (re)create production at v1: database, v1 app, router, web v1
#   demo.sh start-v2 | stop-v2 start version 2 beside version 1 / stop it
#   demo.sh weight N           send N% of the traffic to v2 (atomic write the router reads)
#   demo.sh backup | restore   copy the database to / from $PIPELINE_BACKUP_PATH
#   demo.sh migrate up|down    apply 0002 or its downgrade, in one transaction
#   demo.sh release-web V      atomically point web/current at releases/V (prints previous=)
#   demo.sh switch-web TARGET  atomically point web/current back at TARGET
#   demo.sh smoke              the API answers through the router with v2's fields
#   demo.sh snapshot           schema, rows, symlink and processes: compare before and after
#   demo.sh stop-all           stop every demo process
set -eu
here=$(cd "$(dirname "$0")" && pwd)
DEMO_DIR=${DEMO_DIR:-.pipeline/demo}
DEMO_PORT=${DEMO_PORT:-18080}
DEMO_V1_PORT=${DEMO_V1_PORT:-18081}
DEMO_V2_PORT=${DEMO_V2_PORT:-18082}
db=${DEMO_DB:-$DEMO_DIR/shop.db}
run="$DEMO_DIR/run"

sql() { python3 "$here/sqlite.py" "$@"; }

# Healthy means: our process answers, with this demo's instance token (another process that
# happens to listen on the port does not count).
wait_healthy() { # name url
  i=0
  until python3 -c '
import json, sys, urllib.request
body = json.load(urllib.request.urlopen(sys.argv[1], timeout=1))
sys.exit(0 if body.get("instance") == sys.argv[2] else 1)' "$2" "$(cat "$DEMO_DIR/instance")" 2>/dev/null; do
    i=$((i + 1))
    if ! kill -0 "$(cat "$run/$1.pid")" 2>/dev/null; then
      echo "$1 exited before it became healthy at $2:" >&2; cat "$run/$1.log" >&2 || true; exit 1
    fi
    if [ "$i" -ge 100 ]; then echo "$1 did not become healthy at $2" >&2; cat "$run/$1.log" >&2 || true; exit 1; fi
    sleep 0.1
  done
  echo "$1 healthy at $2"
}

# Refuses to start when a port is taken: the demo would otherwise measure someone else's service.
require_free() { # port...
  for port in "$@"; do
    if ! python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try: s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError: sys.exit(1)' "$port"; then
      echo "demo: port $port on 127.0.0.1 is already taken by another process; stop it, or run the demo on other ports (pipeline run pipelines/demo.yml --input port=N --input v1-port=N --input v2-port=N)" >&2
      exit 1
    fi
  done
}

start() { # name args...
  name=$1; shift
  # A new session, so the service outlives the stage's process group; its output goes to a log.
  setsid python3 "$here/service.py" "$@" --instance "$(cat "$DEMO_DIR/instance")" >"$run/$name.log" 2>&1 </dev/null &
  echo $! >"$run/$name.pid"
}

stop() { # name
  [ -f "$run/$1.pid" ] || return 0
  pid=$(cat "$run/$1.pid")
  if kill "$pid" 2>/dev/null; then
    i=0
    while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    kill -9 "$pid" 2>/dev/null || true
    echo "stopped $1 (pid $pid)"
  fi
  rm -f "$run/$1.pid"
}

switch_symlink() { # link target
  ln -sfn "$2" "$1.next"
  mv -T "$1.next" "$1"
}

case "${1:-}" in
bootstrap)
  "$0" stop-all >/dev/null
  require_free "$DEMO_PORT" "$DEMO_V1_PORT" "$DEMO_V2_PORT"
  rm -rf "$DEMO_DIR"
  mkdir -p "$run" "$DEMO_DIR/web/releases/v1"
  python3 -c 'import secrets; print(secrets.token_hex(8))' >"$DEMO_DIR/instance"
  sql "$db" script "$here/migrations/0001_create_items.sql"
  sql "$db" exec "CREATE TABLE schema_migrations (version TEXT PRIMARY KEY)"
  sql "$db" exec "INSERT INTO schema_migrations VALUES ('0001')"
  sql "$db" exec "INSERT INTO items (name) VALUES ('espresso'), ('flat white'), ('cortado')"
  printf '<h1>shop v1</h1>\n' >"$DEMO_DIR/web/releases/v1/index.html"
  switch_symlink "$DEMO_DIR/web/current" releases/v1
  echo 0 >"$DEMO_DIR/weight"
  start v1 app --version v1 --port "$DEMO_V1_PORT" --db "$db"
  start router router --port "$DEMO_PORT" --weight-file "$DEMO_DIR/weight" --v1 "$DEMO_V1_PORT" --v2 "$DEMO_V2_PORT"
  wait_healthy v1 "http://127.0.0.1:$DEMO_V1_PORT/health"
  wait_healthy router "http://127.0.0.1:$DEMO_PORT/health"
  echo "production is at v1: 3 items, web/current -> releases/v1, all traffic on v1"
  ;;
start-v2)
  require_free "$DEMO_V2_PORT"
  start v2 app --version v2 --port "$DEMO_V2_PORT" --db "$db"
  wait_healthy v2 "http://127.0.0.1:$DEMO_V2_PORT/health"
  echo "previous=v1" >>"$PIPELINE_OUTPUTS"
  ;;
stop-v2) stop v2 ;;
weight)
  case "${2:-}" in ''|*[!0-9]*) echo "weight: expected a percentage, got '${2:-}'" >&2; exit 2 ;; esac
  echo "$2" >"$DEMO_DIR/weight.next"
  mv "$DEMO_DIR/weight.next" "$DEMO_DIR/weight"
  echo "router: $2% of traffic to v2"
  ;;
backup) sql "$db" backup-to "$PIPELINE_BACKUP_PATH" ;;
restore) sql "$db" restore-from "$PIPELINE_BACKUP_PATH" ;;
migrate)
  case "${2:-}" in
  up) sql "$db" migrate "$here/migrations/0002_add_price.sql" "INSERT INTO schema_migrations VALUES ('0002')" ;;
  down) sql "$db" migrate "$here/migrations/0002_add_price.down.sql" "DELETE FROM schema_migrations WHERE version = '0002'" ;;
  *) echo "migrate: up or down" >&2; exit 2 ;;
  esac
  ;;
release-web)
  mkdir -p "$DEMO_DIR/web/releases/$2"
  printf '<h1>shop %s</h1>\n' "$2" >"$DEMO_DIR/web/releases/$2/index.html"
  echo "previous=$(readlink "$DEMO_DIR/web/current")" >>"$PIPELINE_OUTPUTS"
  switch_symlink "$DEMO_DIR/web/current" "releases/$2"
  echo "web/current -> releases/$2"
  ;;
switch-web)
  switch_symlink "$DEMO_DIR/web/current" "$2"
  echo "web/current -> $2"
  ;;
smoke)
  python3 - "http://127.0.0.1:$DEMO_PORT/api/items" <<'PY'
import json, sys, urllib.request
body = json.load(urllib.request.urlopen(sys.argv[1], timeout=3))
assert body["version"] == "v2", f"served by {body['version']}"
assert all("price_cents" in item for item in body["items"]), "items lack price_cents"
print(f"{len(body['items'])} items served by v2 with prices")
PY
  grep -q "shop v2" "$DEMO_DIR/web/current/index.html"
  echo "web/current serves shop v2"
  ;;
snapshot)
  sql "$db" dump
  echo "web/current -> $(readlink "$DEMO_DIR/web/current")"
  echo "weight: $(cat "$DEMO_DIR/weight")"
  ;;
stop-all)
  for name in router v2 v1; do stop "$name"; done
  ;;
*)
  sed -n '2,16p' "$0" >&2
  exit 2
  ;;
esac
