# shellcheck shell=bash
# Throwaway PostgreSQL cluster for tests, demo and benchmarks.
# Usage:  . test/cluster.sh; cluster_start; ...   (cluster_stop runs on exit, Ctrl-C or TERM)
# Exports PGHOST PGPORT PGUSER PGDATABASE for psql, pg_regress and clients.
# The server refuses to run as root, so as root it runs as the `postgres` user.
# Settings: JWT_TEST_PORT, JWT_SERVER_USER (default postgres), JWT_SERVER_OPTS (extra -c ...).

PGBIN=${PGBIN:-}   # set by cluster_start (pg_config may not be installed yet when sourced)
# The server listens only on a socket in its own private directory, so the port
# merely names the socket; a random one keeps parallel clusters apart anyway.
: "${JWT_TEST_PORT:=$(( 54000 + RANDOM % 1000 ))}"

# --- Exit handling ----------------------------------------------------------
# Scripts register cleanups with at_exit; they run once (newest first) however
# the script ends. A trapped INT/TERM would otherwise let bash carry on with the
# next command, so those handlers exit explicitly after cleaning up.
JWT_CLEANUPS=()
at_exit() {
    JWT_CLEANUPS=("$1" "${JWT_CLEANUPS[@]}")
    trap _jwt_run_cleanups EXIT
    trap '_jwt_run_cleanups; trap - EXIT; exit 130' INT
    trap '_jwt_run_cleanups; trap - EXIT; exit 143' TERM HUP
}
_jwt_run_cleanups() {
    local c cleanups=("${JWT_CLEANUPS[@]}")
    JWT_CLEANUPS=()
    for c in "${cleanups[@]}"; do "$c"; done
}

# Run a command as the server user. `cd /` first: the caller's directory (e.g. a
# clone under /root) may not be readable by that user.
as_server_user() {
    if [ "$(id -u)" = 0 ]; then
        (cd / && runuser -u "${JWT_SERVER_USER:-postgres}" -- "$@")
    else
        "$@"
    fi
}

cluster_start() {
    : "${PGBIN:=$(pg_config --bindir)}"
    # Always under /tmp: $TMPDIR may be private to root and unreachable for postgres.
    CLUSTER_DIR=$(mktemp -d /tmp/jwt-cluster.XXXXXX) || return 1
    at_exit cluster_stop
    chmod 755 "$CLUSTER_DIR"
    mkdir -p "$CLUSTER_DIR/data" "$CLUSTER_DIR/sock"
    if [ "$(id -u)" = 0 ]; then
        chown -R "${JWT_SERVER_USER:-postgres}" "$CLUSTER_DIR"
    fi
    as_server_user "$PGBIN/initdb" -D "$CLUSTER_DIR/data" -U postgres -A trust \
        -E UTF8 --locale=C.UTF-8 >"$CLUSTER_DIR/initdb.log" 2>&1 || {
        cat "$CLUSTER_DIR/initdb.log" >&2; return 1; }
    # fsync=off: the data is thrown away, so durability only costs time.
    as_server_user "$PGBIN/pg_ctl" -D "$CLUSTER_DIR/data" -l "$CLUSTER_DIR/server.log" -w \
        -o "-p $JWT_TEST_PORT -k $CLUSTER_DIR/sock -c listen_addresses='' -c fsync=off ${JWT_SERVER_OPTS:-}" \
        start >/dev/null || { cat "$CLUSTER_DIR/server.log" >&2; return 1; }
    export PGHOST="$CLUSTER_DIR/sock" PGPORT="$JWT_TEST_PORT" PGUSER=postgres PGDATABASE=postgres
}

# Print the server log (or its last N lines): useful after a crash.
cluster_log() {
    [ -n "${CLUSTER_DIR:-}" ] && [ -f "$CLUSTER_DIR/server.log" ] || return 0
    if [ -n "${1:-}" ]; then tail -n "$1" "$CLUSTER_DIR/server.log"; else cat "$CLUSTER_DIR/server.log"; fi
}

cluster_stop() {
    [ -n "${CLUSTER_DIR:-}" ] || return 0
    local data="$CLUSTER_DIR/data" pid
    if [ -f "$data/postmaster.pid" ]; then
        # Fast shutdown; if that hangs, immediate; as a last resort SIGKILL the postmaster.
        as_server_user "$PGBIN/pg_ctl" -D "$data" -m fast -t 30 -w stop >/dev/null 2>&1 ||
        as_server_user "$PGBIN/pg_ctl" -D "$data" -m immediate -t 10 -w stop >/dev/null 2>&1 || {
            pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null)
            [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
        }
    fi
    rm -rf "$CLUSTER_DIR"
    CLUSTER_DIR=
}
