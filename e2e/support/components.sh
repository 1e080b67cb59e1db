# shellcheck shell=bash
# Install (only when missing) and start the real components the tests use (COMPONENTS.md).
# Source common.sh first. Each start_* function exports the variables the Rust tests read and
# returns non-zero on failure. PostgreSQL and Redis are reused when they already answer; the
# others start on a free port for every run. Whatever a function starts is registered, so the
# EXIT trap (install_stop_trap) stops only that.
#
# The GraphQL audit helpers run from the node dir, where their imports resolve
# (ES modules ignore NODE_PATH):
#   node "$OPSDECK_TEST_NODE_DIR/graphql-audit.mjs" http://127.0.0.1:PORT/graphql
#   node "$OPSDECK_TEST_NODE_DIR/ws-subscribe.mjs" ws://127.0.0.1:PORT/graphql 'subscription { … }' [MAX]
# (TOKEN=… in the environment adds the bearer token / connection_init payload.)

SUPPORT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# _timed NAME FUNC: run FUNC, log how long it took
_timed() {
  local t0; t0=$(now)
  "$2" || { log "$1 FAILED after $(elapsed "$t0")"; return 1; }
  log "$1 ready in $(elapsed "$t0")"
}

# ---- §1 PostgreSQL 15 and the application roles -----------------------------------------
PG_PORT=${PG_PORT:-5432}; PG_CLUSTER=${PG_CLUSTER:-main}
PG_DB=${PG_DB:-opsdeck_test}; PG_OWNER=${PG_OWNER:-opsdeck_owner}; PG_APP=${PG_APP:-opsdeck_app}

pg_admin() {   # psql as superuser: TCP when trust allows it, else the postgres OS user (peer)
  if psql -w -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -c '' >/dev/null 2>&1; then
    psql -w -h 127.0.0.1 -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -q "$@"
  else
    (cd / && runuser -u postgres -- psql -p "$PG_PORT" -v ON_ERROR_STOP=1 -q "$@")
  fi
}

start_postgres() {
  if ! pg_isready -q -h 127.0.0.1 -p "$PG_PORT"; then
    [ -x /usr/lib/postgresql/15/bin/postgres ] || apt_install postgresql || return 1
    pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "15 $PG_CLUSTER" ||
      pg_createcluster 15 "$PG_CLUSTER" --port "$PG_PORT" >/dev/null || return 1
    # pg_ctlcluster is not blocked by policy-rc.d (apt's service start is)
    pg_ctlcluster 15 "$PG_CLUSTER" start || return 1
    register_pg_cluster 15 "$PG_CLUSTER"
    local ok=
    for _ in $(seq 50); do pg_isready -q -h 127.0.0.1 -p "$PG_PORT" && { ok=1; break; }; sleep 0.2; done
    [ -n "$ok" ] || { log "PostgreSQL on $PG_PORT did not become ready"; return 1; }
    PG_STARTED=1
  fi
  # Owner role (migrations, CREATEDB and pg_signal_backend for per-test clones) and app role (server/workers: not
  # owner, superuser or BYPASSRLS, so forced RLS binds it). Idempotent.
  pg_admin -d postgres -v owner="$PG_OWNER" -v app="$PG_APP" -v db="$PG_DB" <<'SQL' || return 1
SELECT format('CREATE ROLE %I LOGIN CREATEDB PASSWORD %L', :'owner', :'owner')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'owner') \gexec
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'app', :'app')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app') \gexec
ALTER ROLE :"app" NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
-- so a test's DROP DATABASE … WITH (FORCE) of its clone may end the app role's connections
SELECT format('GRANT pg_signal_backend TO %I', :'owner')
 WHERE NOT pg_has_role(:'owner', 'pg_signal_backend', 'MEMBER') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'owner')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
\connect :"db"
GRANT USAGE ON SCHEMA public TO :"app";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"app";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
  GRANT USAGE, SELECT ON SEQUENCES TO :"app";
SQL
  # Passwords equal the role names (test-only), so the URLs work under trust and scram alike.
  export OPSDECK_TEST_MIGRATE_URL="postgres://$PG_OWNER:$PG_OWNER@127.0.0.1:$PG_PORT/$PG_DB"
  export OPSDECK_TEST_APP_URL="postgres://$PG_APP:$PG_APP@127.0.0.1:$PG_PORT/$PG_DB"
  export OPSDECK_TEST_PG_ADMIN_OK=1   # roles and grants above were applied
}

# ---- §2 Redis (plain instance only; the AOF one on 6380 is left out for now) -------------
REDIS_PORT=${REDIS_PORT:-6379}

_redis_instance() {  # _redis_instance PORT ARGS…: nothing to do when PING already answers there
  local port=$1; shift
  [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ] && return 0
  mkdir -p "$STATE_DIR/redis-$port"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --dir "$STATE_DIR/redis-$port" \
    --pidfile "$RUN_DIR/redis-$port.pid" --logfile "$RUN_DIR/redis-$port.log" "$@" || return 1
  register_pidfile "$RUN_DIR/redis-$port.pid"
  REDIS_STARTED=1
  for _ in $(seq 50); do
    [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ] && return 0; sleep 0.1
  done
  log "redis on $port did not start (see $RUN_DIR/redis-$port.log)"; return 1
}

start_redis() {
  command -v redis-server >/dev/null || apt_install redis-server || return 1
  _redis_instance "$REDIS_PORT" --save '' --appendonly no || return 1
  export OPSDECK_TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
}

# ---- §3 Chromium and chromedriver -------------------------------------------------------
start_chromedriver() {
  # The worker prefers the headless shell (a third of Chromium's start-up CPU); the tests
  # also drive full Chromium. All three in one install, so their versions match.
  { command -v chromedriver >/dev/null && [ -x /usr/bin/chromium ] &&
    [ -x /usr/lib/chromium/chromium-headless-shell ]; } ||
    apt_install chromium chromium-driver chromium-headless-shell || return 1
  local port=${WD_PORT:-$(free_port)}
  chromedriver --port="$port" --allowed-ips=127.0.0.1 --log-path="$RUN_DIR/chromedriver.log" \
    > "$RUN_DIR/chromedriver.out" 2>&1 &
  echo $! > "$RUN_DIR/chromedriver.pid"
  register_pidfile "$RUN_DIR/chromedriver.pid"
  wait_started "$RUN_DIR/chromedriver.pid" "$RUN_DIR/chromedriver.out" "http://127.0.0.1:$port/status" 30 || return 1
  export OPSDECK_TEST_WEBDRIVER_URL="http://127.0.0.1:$port"
}

# ---- §4 moto server (S3, Batch) ---------------------------------------------------------
MOTO_VERSION=5.2.5
start_moto() {
  local venv=$STATE_DIR/venv-moto
  # The marker is written only after a complete pip install, so a half-done one is redone.
  if [ ! -f "$venv/.installed-moto-$MOTO_VERSION" ] || ! "$venv/bin/python" -c '' 2>/dev/null; then
    log "pip install moto[server]==$MOTO_VERSION into $venv"
    rm -rf "$venv"
    { python3 -m venv "$venv" &&
        "$venv/bin/pip" install -q "moto[server]==$MOTO_VERSION"; } > "$RUN_DIR/pip-moto.log" 2>&1 ||
      { cat "$RUN_DIR/pip-moto.log" >&2; return 1; }
    touch "$venv/.installed-moto-$MOTO_VERSION"
  fi
  local port=${MOTO_PORT:-$(free_port)}
  local url="http://127.0.0.1:$port"
  "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" > "$RUN_DIR/moto.log" 2>&1 &
  echo $! > "$RUN_DIR/moto.pid"
  register_pidfile "$RUN_DIR/moto.pid"
  wait_started "$RUN_DIR/moto.pid" "$RUN_DIR/moto.log" "$url/moto-api/" 60 || return 1
  # Batch without a Docker engine; must be resent after every start (survives /moto-api/reset)
  curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' \
    -d '{"batch":{"use_docker":false}}' "$url/moto-api/config" || return 1
  export OPSDECK_TEST_S3_ENDPOINT="$url"
}

# ---- §5 OIDC provider -------------------------------------------------------------------
OIDC_PROVIDER_VERSION=9.13.3
start_oidc() {
  local d=$STATE_DIR/oidc
  mkdir -p "$d"
  cp "$SUPPORT_DIR/oidc-provider.mjs" "$d/" || return 1   # every run, so edits are picked up
  [ -f "$d/package.json" ] || echo '{"private":true,"type":"module"}' > "$d/package.json"
  if [ ! -f "$d/.installed-oidc-provider-$OIDC_PROVIDER_VERSION" ]; then
    log "npm install oidc-provider@$OIDC_PROVIDER_VERSION into $d"
    npm install --prefix "$d" --no-audit --no-fund --silent "oidc-provider@$OIDC_PROVIDER_VERSION" \
      > "$RUN_DIR/npm-oidc.log" 2>&1 || { cat "$RUN_DIR/npm-oidc.log" >&2; return 1; }
    touch "$d/.installed-oidc-provider-$OIDC_PROVIDER_VERSION"
  fi
  local port=${OIDC_PORT:-$(free_port)}
  export OPSDECK_TEST_OIDC_AUDIENCE=${OPSDECK_TEST_OIDC_AUDIENCE:-urn:opsdeck:api}
  # the provider reads OIDC_PORT, OIDC_AUDIENCE, OIDC_TOKEN_TTL (default 3600)
  OIDC_PORT=$port OIDC_AUDIENCE=$OPSDECK_TEST_OIDC_AUDIENCE \
    node "$d/oidc-provider.mjs" > "$RUN_DIR/oidc.log" 2>&1 &
  echo $! > "$RUN_DIR/oidc.pid"
  register_pidfile "$RUN_DIR/oidc.pid"
  wait_started "$RUN_DIR/oidc.pid" "$RUN_DIR/oidc.log" "http://127.0.0.1:$port/.well-known/openid-configuration" 30 ||
    return 1
  export OPSDECK_TEST_OIDC_ISSUER="http://127.0.0.1:$port"   # exact, no trailing slash
}

# token PERSONA [SCOPE]: a JWT access token whose sub is PERSONA (client secret: PERSONA-secret)
token() {
  curl -sf -u "$1:$1-secret" -d grant_type=client_credentials \
    --data-urlencode "scope=${2:-api:read api:write}" "$OPSDECK_TEST_OIDC_ISSUER/token" |
    python3 -c 'import sys, json; print(json.load(sys.stdin)["access_token"])'
}

# ---- §6 node tools for the GraphQL-over-HTTP audit and graphql-ws client ----------------
NODE_TOOLS_PKGS="graphql@16 graphql-http@1.23.1 graphql-ws@6.4.2 ws@8"
ensure_node_tools() {
  local d=$STATE_DIR/node-tools marker
  marker=$d/.installed-$(echo "$NODE_TOOLS_PKGS" | tr -c 'A-Za-z0-9.\n' '_')
  mkdir -p "$d"
  [ -f "$d/package.json" ] || echo '{"private":true,"type":"module"}' > "$d/package.json"
  if [ ! -f "$marker" ]; then
    log "npm install $NODE_TOOLS_PKGS into $d"
    # shellcheck disable=SC2086 # word splitting of the package list is intended
    npm install --prefix "$d" --no-audit --no-fund --silent $NODE_TOOLS_PKGS \
      > "$RUN_DIR/npm-node-tools.log" 2>&1 || { cat "$RUN_DIR/npm-node-tools.log" >&2; return 1; }
    touch "$marker"
  fi
  # ES modules resolve imports next to the script, so the scripts live beside node_modules
  cp "$SUPPORT_DIR/graphql-audit.mjs" "$SUPPORT_DIR/ws-subscribe.mjs" "$d/" || return 1
  export OPSDECK_TEST_NODE_DIR="$d"
}

# ---- §7 poppler: the PDF report test turns a page into an image and reads its text --------
ensure_pdf_tools() {
  { command -v pdftoppm >/dev/null && command -v pdftotext >/dev/null; } ||
    apt_install poppler-utils || return 1
}

# ---- everything -------------------------------------------------------------------------
start_all() {
  _timed postgres start_postgres || return 1
  _timed redis start_redis || return 1
  _timed chromedriver start_chromedriver || return 1
  _timed moto start_moto || return 1
  _timed oidc start_oidc || return 1
  _timed node-tools ensure_node_tools || return 1
  _timed pdf-tools ensure_pdf_tools || return 1
}

# print_components: one line per component (stderr, so a wrapped command's stdout stays clean)
print_components() {
  {
    echo "postgres     migrate=$OPSDECK_TEST_MIGRATE_URL"
    echo "             app=$OPSDECK_TEST_APP_URL${PG_STARTED:+ (started by this run)}"
    echo "redis        $OPSDECK_TEST_REDIS_URL${REDIS_STARTED:+ (started by this run)}"
    echo "chromedriver $OPSDECK_TEST_WEBDRIVER_URL"
    echo "moto (S3)    $OPSDECK_TEST_S3_ENDPOINT"
    echo "oidc         $OPSDECK_TEST_OIDC_ISSUER (audience $OPSDECK_TEST_OIDC_AUDIENCE)"
    echo "node tools   $OPSDECK_TEST_NODE_DIR"
  } >&2
}
