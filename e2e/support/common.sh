# shellcheck shell=bash
# Shared helpers for the test components (COMPONENTS.md §0). Source it; don't run it.
#
#   REPO       repository root (derived from this file's location)
#   STATE_DIR  cached installs (venvs, node_modules), Redis data; default $REPO/target/components
#   RUN_DIR    this run's pid files and logs: $STATE_DIR/runs/<pid of the sourcing shell>
#
# Everything a run starts is recorded with register_pidfile / register_pg_cluster, and
# stop_started (installed as the EXIT trap by install_stop_trap) stops exactly those, newest
# first. Nothing is ever killed by process name.

REPO=${REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
STATE_DIR=${STATE_DIR:-$REPO/target/components}
mkdir -p "$STATE_DIR"
STATE_DIR=$(cd "$STATE_DIR" && pwd)   # absolute: the scripts cd around

# Per-run directory, so two runs sharing STATE_DIR never overwrite each other's pid files.
# Directories of earlier runs whose shell is gone are pruned (logs survive until the next run).
RUN_DIR=$STATE_DIR/runs/$$
mkdir -p "$STATE_DIR/runs"
for _d in "$STATE_DIR"/runs/*/; do
  _p=$(basename "$_d")
  [ "$_p" = "$$" ] && continue
  [[ "$_p" =~ ^[0-9]+$ ]] && kill -0 "$_p" 2>/dev/null && continue
  rm -rf "$_d"
done
unset _d _p
mkdir -p "$RUN_DIR"

log() { echo "components: $*" >&2; }

# now: seconds with decimals, for the "ready in" timings
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

wait_http() {  # wait_http URL SECONDS [curl args…]: returns 0 once URL answers 2xx
  local url=$1 end=$((SECONDS + $2)); shift 2
  until curl -sf -o /dev/null "$@" "$url"; do
    (( SECONDS < end )) || { echo "timeout: $url" >&2; return 1; }; sleep 0.2
  done
}

wait_started() {  # wait_started PIDFILE LOG URL SECONDS: wait_http, but fail fast if the process dies
  local pid url=$3 end=$((SECONDS + $4)); pid=$(cat "$1")
  until curl -sf -o /dev/null "$url"; do
    kill -0 "$pid" 2>/dev/null || { log "process $pid exited; last lines of $2:"; tail -n 20 "$2" >&2; return 1; }
    (( SECONDS < end )) || { log "timeout: $url (see $2)"; return 1; }; sleep 0.2
  done
}

stop_pid() {   # stop_pid PIDFILE: TERM, wait up to 10 s, then KILL; that pid only
  local p; p=$(cat "$1" 2>/dev/null) || return 0
  [[ "$p" =~ ^[0-9]+$ ]] || { rm -f "$1"; return 0; }
  kill "$p" 2>/dev/null || { rm -f "$1"; return 0; }
  for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$p" 2>/dev/null || true; rm -f "$1"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# apt_install PKG…: one `apt-get update` per run, then install; waits for a busy dpkg lock
_APT_UPDATED=${_APT_UPDATED:-}
apt_install() {
  log "apt-get install $*"
  if [ -z "$_APT_UPDATED" ]; then
    apt-get -o DPkg::Lock::Timeout=300 update -qq || return 1
    _APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq "$@" \
    > "$RUN_DIR/apt.log" 2>&1 || { cat "$RUN_DIR/apt.log" >&2; return 1; }
}

# ---- registry of what this run started ---------------------------------------------------
STARTED=()   # entries: "pid:<pidfile>" or "pg:<version>:<cluster>"
register_pidfile() { STARTED+=("pid:$1"); }
register_pg_cluster() { STARTED+=("pg:$1:$2"); }

stop_started() {  # stop everything registered, newest first; quiet unless something fails
  local i e
  for (( i = ${#STARTED[@]} - 1; i >= 0; i-- )); do
    e=${STARTED[i]}
    case $e in
      pid:*) stop_pid "${e#pid:}" ;;
      pg:*)  local rest=${e#pg:}
             pg_ctlcluster "${rest%%:*}" "${rest#*:}" stop >/dev/null 2>&1 ||
               log "could not stop PostgreSQL cluster ${rest/:/ }" ;;
    esac
  done
  STARTED=()
}

# install_stop_trap: stop what we started on any exit; INT/TERM become exits so EXIT runs.
install_stop_trap() {
  trap stop_started EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}
