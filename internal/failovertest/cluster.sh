#!/usr/bin/env bash
# Starts and stops the pg_auto_failover cluster of the failover test: a
# monitor and two data nodes on 127.0.0.1, with every file under one
# directory.
#
#   cluster.sh start DIR MONITOR_PORT NODE1_PORT NODE2_PORT [WATCH_PID]
#   cluster.sh kill-node DIR NODE
#   cluster.sh stop DIR
#
# start installs pg_autoctl (Debian's postgresql-15-auto-failover) when it
# is missing and this runs as root, creates the monitor and the nodes, and
# waits until node1 is primary and node2 its secondary. As root it runs
# pg_autoctl as the postgres user, since pg_autoctl refuses to run as root.
# With WATCH_PID it also leaves a watcher that stops the cluster once that
# process is gone, so that a test binary killed mid-run leaves nothing
# behind. Every process it starts is recorded in DIR/pids.
#
# kill-node kills node NODE (node1 or node2) with SIGKILL, as a machine
# dies: its pg_autoctl processes, its postmaster (from postmaster.pid) and
# the postmaster's children. It prints the postmaster's pid.
#
# stop kills every recorded process and the postgres of each data
# directory, and removes DIR.
#
# Exit status 2 means the cluster cannot run here (the reason is on
# stderr, for a skip); anything else non-zero is a failure.
set -uo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PACKAGE=postgresql-15-auto-failover

cannot() { echo "$*" >&2; exit 2; }
fail() { echo "$*" >&2; exit 1; }

# as runs its arguments as the cluster's user, with pg_autoctl's own files
# under DIR.
as() { "${AS[@]}" "$@"; }
set_as() {
  AS=(env HOME="$DIR" XDG_CONFIG_HOME="$DIR/config" XDG_DATA_HOME="$DIR/share"
    XDG_RUNTIME_DIR="$DIR/run" PATH="$PG_BIN:/usr/bin:/bin" PG_CONFIG="$PG_BIN/pg_config")
  if [ "$(id -u)" = 0 ]; then AS=(runuser -u postgres -- "${AS[@]}"); fi
}

# stop_cluster kills what start left running, even half-started.
stop_cluster() {
  local pid
  # pg_autoctl is frozen first, so that it restarts nothing, then each
  # postmaster and its children die (while the postmaster lives, since
  # its children are found by their parent), then pg_autoctl.
  local groups=()
  [ -f "$DIR/pids" ] && groups=($(cut -d' ' -f2 "$DIR/pids"))
  for pid in "${groups[@]}"; do signal_group STOP "$pid"; done
  for d in "$DIR"/monitor "$DIR"/node1 "$DIR"/node2; do
    kill_postmaster "$d" >/dev/null
  done
  for pid in "${groups[@]}"; do signal_group KILL "$pid"; done
  # Wait for the postmasters to be gone before removing their files.
  for _ in $(seq 50); do
    local alive=0
    for d in "$DIR"/monitor "$DIR"/node1 "$DIR"/node2; do
      [ -f "$d/postmaster.pid" ] || continue
      pid=$(head -n1 "$d/postmaster.pid")
      [ -n "$pid" ] && grep -qF -- "$d" "/proc/$pid/cmdline" 2>/dev/null && alive=1
    done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  rm -rf "$DIR"
}

# run starts `pg_autoctl ... --run` in a session of its own, logging to
# DIR/NAME.log, and records its pid (also its process group).
run() {
  local name=$1; shift
  setsid "${AS[@]}" "$@" >"$DIR/$name.log" 2>&1 </dev/null &
  echo "$name $!" >>"$DIR/pids"
}

# signal_group sends signal $1 to the process group $2 that run started,
# if it still holds a process of this cluster.
signal_group() {
  [ -n "$2" ] && pgrep -g "$2" -f -- "$DIR" >/dev/null && kill "-$1" -- "-$2" 2>/dev/null
  return 0
}

# kill_postmaster kills the postmaster of data directory $1 and its
# children with SIGKILL, and prints its pid.
kill_postmaster() {
  local pid child
  [ -f "$1/postmaster.pid" ] || return 0
  pid=$(head -n1 "$1/postmaster.pid")
  [ -n "$pid" ] || return 0
  # A stale file (the postmaster was killed before) may name a pid that
  # is now another process's.
  grep -qF -- "$1" "/proc/$pid/cmdline" 2>/dev/null || return 0
  # The children first: once the postmaster is gone they are orphans
  # that pgrep -P no longer finds.
  kill -STOP "$pid" 2>/dev/null
  for child in $(pgrep -P "$pid"); do kill -KILL "$child" 2>/dev/null; done
  kill -KILL "$pid" 2>/dev/null
  echo "$pid"
}

kill_node() {
  local node=$1 pid pm
  case $node in node1 | node2) ;; *) fail "no node $node" ;; esac
  # Its pg_autoctl is frozen first, so that it cannot restart postgres.
  pid=$(awk -v n="$node" '$1 == n { print $2 }' "$DIR/pids")
  signal_group STOP "$pid"
  pm=$(kill_postmaster "$DIR/$node")
  signal_group KILL "$pid"
  [ -n "$pm" ] || fail "no running postmaster in $DIR/$node"
  echo "$pm"
}

# state prints the reported and the assigned state of the node named $1,
# as the monitor has them.
state() {
  as "$PG_BIN/psql" -qAtX -F ' ' -h 127.0.0.1 -p "$MONITOR_PORT" -d pg_auto_failover \
    -c "SELECT reportedstate, goalstate FROM pgautofailover.node WHERE nodename = '$1'" 2>/dev/null
}

# wait_state waits up to $3 seconds until node $1 reports and is assigned $2.
wait_state() {
  local deadline=$((SECONDS + $3))
  while [ $SECONDS -lt $deadline ]; do
    [ "$(state "$1")" = "$2 $2" ] && return 0
    sleep 0.5
  done
  fail "node $1 did not reach state $2 within $3s (it is: $(state "$1")); logs in $DIR/*.log"
}

start_cluster() {
  local mport=$1 p1=$2 p2=$3 watch=${4:-}
  MONITOR_PORT=$mport
  if ! command -v pg_autoctl >/dev/null; then
    if [ "$(id -u)" != 0 ]; then
      cannot "pg_autoctl is not installed and this is not root: install $PACKAGE (apt-get install $PACKAGE) to run the failover test"
    fi
    command -v apt-get >/dev/null || cannot "pg_autoctl is not installed and there is no apt-get: install pg_auto_failover to run the failover test"
    echo "installing $PACKAGE" >&2
    local log
    log=$(mktemp "${TMPDIR:-/tmp}/authcapture-failover-apt.XXXXXX")
    if ! (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$PACKAGE") >"$log" 2>&1; then
      cannot "installing $PACKAGE failed (no network to the Debian mirror?): $(tail -n 3 "$log"); the whole output is in $log; install it by hand to run the failover test"
    fi
    rm -f "$log"
    command -v pg_autoctl >/dev/null || cannot "$PACKAGE is installed but pg_autoctl is not on PATH"
  fi
  [ -x "$PG_BIN/pg_ctl" ] || cannot "no PostgreSQL 15 server in $PG_BIN (set PG_BIN): install postgresql-15 to run the failover test"
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || cannot "running as root, but there is no postgres user to run pg_autoctl as"
  fi

  mkdir -p "$DIR/config" "$DIR/share" "$DIR/run" || fail "cannot create $DIR"
  chmod 700 "$DIR/run"
  : >"$DIR/pids"
  [ "$(id -u)" = 0 ] && chown -R postgres: "$DIR"
  # pg_autoctl creates the data directories; the parent must be reachable.
  chmod 755 "$DIR"

  if [ -n "$watch" ]; then
    setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; exec "$2" stop "$3"' _ "$watch" "$0" "$DIR" >/dev/null 2>&1 </dev/null &
    echo $! >>"$DIR/pids.watch"
  fi

  local common=(--auth trust --no-ssl --hostname 127.0.0.1 --pgctl "$PG_BIN/pg_ctl")
  as pg_autoctl create monitor --pgdata "$DIR/monitor" --pgport "$mport" "${common[@]}" >"$DIR/create-monitor.log" 2>&1 ||
    fail "creating the monitor failed: $(tail -n 20 "$DIR/create-monitor.log")"
  run monitor pg_autoctl run --pgdata "$DIR/monitor"
  local deadline=$((SECONDS + 30))
  until as "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$mport"; do
    [ $SECONDS -lt $deadline ] || fail "the monitor did not start: $(tail -n 20 "$DIR/monitor.log")"
    sleep 0.2
  done
  local monitor="postgres://autoctl_node@127.0.0.1:$mport/pg_auto_failover?sslmode=disable"

  # Short health checks, so that the monitor fails over within seconds
  # instead of half a minute.
  as "$PG_BIN/psql" -q -h 127.0.0.1 -p "$mport" -d pg_auto_failover -v ON_ERROR_STOP=1 >/dev/null <<'SQL' || fail "tuning the monitor failed"
ALTER SYSTEM SET pgautofailover.health_check_period = 1000;
ALTER SYSTEM SET pgautofailover.health_check_timeout = 1000;
ALTER SYSTEM SET pgautofailover.health_check_max_retries = 1;
ALTER SYSTEM SET pgautofailover.health_check_retry_delay = 500;
ALTER SYSTEM SET pgautofailover.node_considered_unhealthy_timeout = 3000;
ALTER SYSTEM SET pgautofailover.primary_demote_timeout = 5000;
SELECT pg_reload_conf();
SQL

  local i port
  for i in 1 2; do
    port=$p1; [ $i = 2 ] && port=$p2
    run "node$i" pg_autoctl create postgres --pgdata "$DIR/node$i" --pgport "$port" --name "node$i" \
      --monitor "$monitor" --dbname authcapture --run "${common[@]}"
    if [ $i = 1 ]; then wait_state node1 single 60; fi
  done
  # node2 clones node1 with pg_basebackup, which waits for a spread
  # checkpoint (minutes on an idle server); a CHECKPOINT on node1 makes it
  # immediate.
  local deadline=$((SECONDS + 120))
  until [ "$(state node2)" = "secondary secondary" ]; do
    [ $SECONDS -lt $deadline ] || fail "node2 did not become secondary within 120s (it is: $(state node2)); logs in $DIR/*.log"
    as "$PG_BIN/psql" -qAtX -h 127.0.0.1 -p "$p1" -d authcapture -c CHECKPOINT >/dev/null 2>&1
    sleep 1
  done
  wait_state node1 primary 30
  as pg_autoctl show uri --pgdata "$DIR/monitor" --formation default
}

cmd=${1:-}
DIR=${2:-}
[ -n "$DIR" ] || fail "usage: $0 start DIR MONITOR_PORT NODE1_PORT NODE2_PORT [WATCH_PID] | stop DIR"
set_as
case $cmd in
  start)
    [ $# -ge 5 ] || fail "usage: $0 start DIR MONITOR_PORT NODE1_PORT NODE2_PORT [WATCH_PID]"
    start_cluster "$3" "$4" "$5" "${6:-}"
    ;;
  kill-node)
    [ $# -ge 3 ] || fail "usage: $0 kill-node DIR NODE"
    kill_node "$3"
    ;;
  stop)
    if [ -f "$DIR/pids.watch" ]; then
      # The watcher itself calls stop; do not kill the caller.
      while read -r pid; do [ "$pid" != "$PPID" ] && [ "$pid" != "$$" ] && kill -KILL "$pid" 2>/dev/null; done <"$DIR/pids.watch"
    fi
    stop_cluster
    ;;
  *) fail "unknown command $cmd" ;;
esac
