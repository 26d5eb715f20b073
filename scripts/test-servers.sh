#!/usr/bin/env bash
# Starts and stops local FerretDB servers that stand in for MongoDB shards in tests.
#
#   scripts/test-servers.sh start N       N shard servers + 1 config server on free 127.0.0.1 ports
#   scripts/test-servers.sh stop          stop exactly the servers started from this state dir
#   scripts/test-servers.sh status        one line per server: name, pid, port, up/down
#   scripts/test-servers.sh env           print the env file (sourceable)
#   scripts/test-servers.sh restart-one I restart shard I on the same port and data (chaos tests)
#   scripts/test-servers.sh stop-one I    stop shard I only;  start-one I: start it again
#
# Env: SHARDKIT_STATE (default /tmp/shardkit-test-servers): state dir holding one folder per server
# (data/, state/, log, pid, port) and the env file `env` with SHARDKIT_MONGO_URIS, SHARDKIT_CONFIG_URI and
# SHARDKIT_FLAVOUR.
# FERRETDB_BIN overrides the binary (default: scripts/install-ferretdb.sh installs or finds it).
# SHARDKIT_FLAVOUR picks FerretDB's backend at `start` (the state dir remembers it for the other commands):
#   sqlite (default, what CI runs)  one SQLite directory per server;
#   postgresql                      one PostgreSQL cluster per state dir (pg/: initdb'd data, log, port; its
#                                   unix socket is in pg/ too), on its own 127.0.0.1 port with trust auth for
#                                   local connections only, one database per server. `stop` stops the
#                                   FerretDB servers, then the cluster; the *-one commands touch FerretDB only.
#                                   scripts/install-postgresql.sh finds the binaries (SHARDKIT_PG_BIN overrides).
#                                   PostgreSQL refuses to run as root: under root the cluster runs as
#                                   SHARDKIT_PG_USER (default postgres) and the state dir is made traversable.
# A server that does not start is a loud failure (non-zero exit, log tail on stderr), never a skip.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE="${SHARDKIT_STATE:-/tmp/shardkit-test-servers}"
ENV_FILE="$STATE/env"
PG="$STATE/pg"
PG_USER="${SHARDKIT_PG_USER:-postgres}"
# FerretDB's default pool (50 connections per server) times 5 servers passes PostgreSQL's default
# max_connections; 16 per server is more concurrency than 2 cores use.
PG_POOL=16

die() { echo "test-servers: $*" >&2; exit 1; }

# `start` takes the flavour from the env and records it; every later command reads the record, so a
# `stop` or `restart-one` without SHARDKIT_FLAVOUR still acts on the servers that are there.
if [[ "${1:-}" != start && -f "$STATE/flavour" ]]; then FLAVOUR="$(cat "$STATE/flavour")"; else FLAVOUR="${SHARDKIT_FLAVOUR:-sqlite}"; fi
case "$FLAVOUR" in
  sqlite | postgresql) ;;
  *) die "unknown flavour '$FLAVOUR' (SHARDKIT_FLAVOUR: sqlite or postgresql)" ;;
esac

ferretdb_bin() {
  if [[ -n "${FERRETDB_BIN:-}" ]]; then echo "$FERRETDB_BIN"; else bash "$HERE/install-ferretdb.sh"; fi
}

# Ports are picked by the kernel (listen on 0) and released just before FerretDB binds them; a race
# with another process is caught by the ping below and retried on a fresh port.
free_ports() {
  node -e '
    const net = require("node:net");
    const n = Number(process.argv[1]);
    (async () => {
      const servers = [];
      for (let i = 0; i < n; i++) {
        const s = net.createServer();
        await new Promise((res, rej) => s.once("error", rej).listen(0, "127.0.0.1", res));
        servers.push(s);
      }
      console.log(servers.map((s) => s.address().port).join(" "));
      for (const s of servers) s.close();
    })().catch((e) => { console.error(e.message); process.exit(1); });
  ' "$1"
}

pid_alive() {
  local pid="$1"
  # The pid must still be a ferretdb process: a recycled pid is never ours to signal.
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && grep -qa ferretdb "/proc/$pid/cmdline" 2>/dev/null
}

server_names() {
  local d
  for d in "$STATE"/shard* "$STATE"/config; do [[ -f "$d/port" ]] && basename "$d"; done
}

uri_of() { echo "mongodb://127.0.0.1:$(cat "$STATE/$1/port")/"; }

launch() {
  local name="$1" port="$2" bin="$3" dir="$STATE/$1"
  mkdir -p "$dir/data" "$dir/state"
  echo "$port" > "$dir/port"
  local backend=(--handler=sqlite --sqlite-url="file:$dir/data/?_pragma=synchronous(normal)")
  if [[ "$FLAVOUR" == postgresql ]]; then
    # Over the cluster's unix socket: no TCP port of its own to race for, and faster on a loaded machine.
    backend=(--handler=postgresql --postgresql-url="postgres://postgres@/$name?host=$PG&port=$(cat "$PG/port")&pool_max_conns=$PG_POOL")
  fi
  nohup "$bin" "${backend[@]}" --listen-addr="127.0.0.1:$port" \
    --debug-addr=- --telemetry=disable --state-dir="$dir/state" --log-level=warn \
    >>"$dir/log" 2>&1 </dev/null &
  echo $! > "$dir/pid"
}

# Start a server and wait for ping; on a port clash pick a new port, up to 3 attempts.
start_server() {
  local name="$1" port="$2" bin="$3" keep_port="${4:-no}" attempt
  for attempt in 1 2 3; do
    launch "$name" "$port" "$bin"
    if PING_PIDS="$(cat "$STATE/$name/pid")" PING_TIMEOUT_MS="${PING_TIMEOUT_MS:-20000}" node "$HERE/ping.mjs" "mongodb://127.0.0.1:$port/" 2>>"$STATE/$name/log"; then
      return 0
    fi
    stop_server "$name"
    [[ "$keep_port" == yes ]] && break
    port="$(free_ports 1)"
  done
  echo "test-servers: $name did not start; last log lines:" >&2
  tail -n 20 "$STATE/$name/log" >&2 || true
  return 1
}

stop_server() {
  local dir="$STATE/$1" pid i
  [[ -f "$dir/pid" ]] || return 0
  pid="$(cat "$dir/pid")"
  if pid_alive "$pid"; then
    kill "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do pid_alive "$pid" || break; sleep 0.1; done
    if pid_alive "$pid"; then kill -9 "$pid" 2>/dev/null || true; fi
  fi
  rm -f "$dir/pid"
}

# --- the postgresql flavour's cluster ---------------------------------------------------------------

as_pg() {
  if [[ "$(id -u)" -eq 0 ]]; then runuser -u "$PG_USER" -- "$@"; else "$@"; fi
}

pg_pid() { head -n 1 "$PG/data/postmaster.pid" 2>/dev/null || true; }

pg_alive() {
  local pid
  pid="$(pg_pid)"
  # As for FerretDB: a recycled pid is never ours to signal, nor another state dir's cluster.
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && grep -qaF -- "$PG/data" "/proc/$pid/cmdline" 2>/dev/null
}

pg_fail() {
  echo "test-servers: PostgreSQL: $*; last log lines:" >&2
  tail -n 20 "$PG/log" "$PG/initdb.log" >&2 2>/dev/null || true
  return 1
}

# initdb into $PG/data, owned by the user PostgreSQL runs as; local trust auth only.
pg_init() {
  local bin="$1" servers="$2"
  mkdir -p "$PG"
  echo "$bin" > "$PG/bin"
  if [[ "$(id -u)" -eq 0 ]]; then
    command -v runuser >/dev/null || die "PostgreSQL refuses to run as root, and runuser is missing to run it as $PG_USER"
    id "$PG_USER" >/dev/null 2>&1 || die "PostgreSQL refuses to run as root, and there is no user $PG_USER (set SHARDKIT_PG_USER)"
    chmod o+x "$STATE"
    chown "$PG_USER" "$PG"
    as_pg test -w "$PG" || die "$PG_USER cannot write $PG: a parent directory of $STATE is not traversable"
  fi
  # FerretDB accepts only UTF8 with the C, POSIX or en_US.UTF8 locales.
  as_pg "$bin/initdb" -D "$PG/data" -U postgres -A trust -E UTF8 --locale=C --no-sync --no-instructions \
    >"$PG/initdb.log" 2>&1 || pg_fail "initdb failed" || return 1
  printf '%s\n' 'local all all trust' 'host all all 127.0.0.1/32 trust' > "$PG/data/pg_hba.conf"
  {
    echo "listen_addresses = '127.0.0.1'"
    echo "unix_socket_directories = '$PG'"
    echo "max_connections = $(((servers + 1) * PG_POOL + 10))"
    echo "shared_buffers = 32MB"
    echo "include_if_exists = 'shardkit-port.conf'"
  } >> "$PG/data/postgresql.conf"
}

# Start the cluster on a free port; a port taken meanwhile is retried on a fresh one, up to 3 attempts.
pg_start() {
  local bin port attempt
  bin="$(cat "$PG/bin")"
  for attempt in 1 2 3; do
    port="$(free_ports 1)"
    echo "$port" > "$PG/port"
    echo "port = $port" > "$PG/data/shardkit-port.conf"
    if as_pg "$bin/pg_ctl" -D "$PG/data" -l "$PG/log" -w -t "${PG_START_TIMEOUT_S:-60}" start >/dev/null 2>&1; then
      return 0
    fi
    pg_stop
  done
  pg_fail "the cluster did not start"
}

pg_stop() {
  local bin pid i
  pg_alive || return 0
  bin="$(cat "$PG/bin" 2>/dev/null || true)"
  as_pg "$bin/pg_ctl" -D "$PG/data" -m fast -w -t 30 stop >/dev/null 2>&1 && return 0
  # pg_ctl could not (missing, or too slow on a loaded machine): the postmaster's own immediate shutdown.
  pid="$(pg_pid)"
  kill -QUIT "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do pg_alive || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}

# One database per FerretDB server: each sees only its own shard's collections.
pg_setup() {
  local n="$1" bin i args=()
  bin="$(bash "$HERE/install-postgresql.sh")" || die "PostgreSQL is not installed and could not be installed"
  pg_init "$bin" "$n" || die "start failed"
  pg_start || die "start failed"
  for ((i = 0; i < n; i++)); do args+=(-c "CREATE DATABASE shard$i"); done
  args+=(-c "CREATE DATABASE config")
  "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG" -p "$(cat "$PG/port")" -U postgres -d postgres "${args[@]}" >>"$PG/log" 2>&1 \
    || { pg_fail "CREATE DATABASE failed"; pg_stop; die "start failed"; }
}

write_env() {
  local shards=() name
  for name in $(server_names); do [[ "$name" == shard* ]] && shards+=("$(uri_of "$name")"); done
  local IFS=,
  {
    echo "SHARDKIT_MONGO_URIS=${shards[*]}"
    echo "SHARDKIT_CONFIG_URI=$(uri_of config)"
    # So whatever runs on these servers (a benchmark's output) can say which backend it measured.
    echo "SHARDKIT_FLAVOUR=$FLAVOUR"
  } > "$ENV_FILE"
}

cmd_start() {
  local n="${1:-}" name i bin ports
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || die "usage: start N (N >= 1 shard servers)"
  mkdir -p "$STATE"
  for name in $(server_names); do
    if pid_alive "$(cat "$STATE/$name/pid" 2>/dev/null || true)"; then
      die "servers already running from $STATE (run stop first, or set SHARDKIT_STATE)"
    fi
  done
  pg_alive && die "a PostgreSQL cluster is already running from $STATE (run stop first, or set SHARDKIT_STATE)"
  # A fresh start gets fresh data: tests must not see a previous run's documents.
  rm -rf "$STATE"/shard* "$STATE"/config "$ENV_FILE" "$PG"
  echo "$FLAVOUR" > "$STATE/flavour"
  bin="$(ferretdb_bin)" || die "FerretDB is not installed and could not be built"
  if [[ "$FLAVOUR" == postgresql ]]; then pg_setup "$n"; fi
  read -r -a ports <<<"$(free_ports $((n + 1)))"
  for ((i = 0; i < n; i++)); do launch "shard$i" "${ports[$i]}" "$bin"; done
  launch config "${ports[$n]}" "$bin"
  # Ping all at once; re-start individually only the ones that failed (e.g. a port taken meanwhile).
  for name in $(server_names); do
    if ! PING_PIDS="$(cat "$STATE/$name/pid")" PING_TIMEOUT_MS="${PING_TIMEOUT_MS:-20000}" node "$HERE/ping.mjs" "$(uri_of "$name")" 2>>"$STATE/$name/log"; then
      stop_server "$name"
      start_server "$name" "$(free_ports 1)" "$bin" || { cmd_stop >/dev/null; die "start failed"; }
    fi
  done
  write_env
  cat "$ENV_FILE"
}

cmd_stop() {
  local name
  [[ -d "$STATE" ]] || return 0
  for name in $(server_names); do stop_server "$name"; done
  # After FerretDB, so no server of ours is left talking to a cluster that is going away.
  pg_stop
  rm -f "$ENV_FILE"
  echo "stopped servers in $STATE"
}

cmd_status() {
  local name pid up any=0
  for name in $(server_names); do
    any=1
    pid="$(cat "$STATE/$name/pid" 2>/dev/null || true)"
    if pid_alive "$pid"; then up=up; else up=down; fi
    printf '%-8s pid=%-8s port=%-6s %s\n' "$name" "${pid:--}" "$(cat "$STATE/$name/port")" "$up"
  done
  if [[ -d "$PG/data" ]]; then
    if pg_alive; then up=up; else up=down; fi
    pid="$(pg_pid)"
    printf '%-8s pid=%-8s port=%-6s %s\n' postgres "${pid:--}" "$(cat "$PG/port" 2>/dev/null || echo -)" "$up"
  fi
  [[ "$any" == 1 ]] || echo "no servers in $STATE"
}

shard_name() {
  [[ "${1:-}" =~ ^[0-9]+$ ]] || die "usage: $2 I (shard index)"
  [[ -f "$STATE/shard$1/port" ]] || die "no shard$1 in $STATE"
  echo "shard$1"
}

cmd_start_one() {
  local name bin
  name="$(shard_name "${1:-}" start-one)"
  pid_alive "$(cat "$STATE/$name/pid" 2>/dev/null || true)" && die "$name is already running"
  bin="$(ferretdb_bin)"
  start_server "$name" "$(cat "$STATE/$name/port")" "$bin" yes || die "$name did not restart"
  echo "$name up on $(uri_of "$name")"
}

cmd_stop_one() {
  local name
  name="$(shard_name "${1:-}" stop-one)"
  stop_server "$name"
  echo "$name stopped"
}

case "${1:-}" in
  start) cmd_start "${2:-}" ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) [[ -f "$ENV_FILE" ]] && cat "$ENV_FILE" || die "no env file in $STATE (servers not started)" ;;
  restart-one) cmd_stop_one "${2:-}" >/dev/null; cmd_start_one "${2:-}" ;;
  stop-one) cmd_stop_one "${2:-}" ;;
  start-one) cmd_start_one "${2:-}" ;;
  *) die "usage: $0 start N | stop | status | env | restart-one I | stop-one I | start-one I" ;;
esac
