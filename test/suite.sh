# shellcheck shell=bash
# Shared by the shell suites test/*.t.sh: pass/fail counting and the closing
# "N passed, N failed" line, the cluster preamble, databases of their own, a
# streaming hot standby, and a long-lived psql session.
# Source it from the repository root (after `cd "$(dirname "$0")/.."`); it
# sources test/cluster.sh. Suites run under `set -euo pipefail`.
#
#   use_cluster | own_cluster OPTS    start (and register the exit handlers)
#   tls_cluster OPTS                  own_cluster with TLS on 127.0.0.1
#   crash_restart                     SIGKILL the server, restart (crash recovery)
#   check NAME ACTUAL EXPECTED ...    count results
#   finish                            the count line; status 0 if nothing failed

. test/cluster.sh

# --- counting ----------------------------------------------------------------
PASSED=0 FAILED=0 DONE=
ok()    { PASSED=$((PASSED + 1)); echo "ok - $1"; }
notok() { FAILED=$((FAILED + 1)); echo "not ok - $1"; }
# check NAME ACTUAL EXPECTED: ok if equal, otherwise not ok with both values.
check() {
    if [ "$2" = "$3" ]; then ok "$1"
    else notok "$1"; echo "#   got:      $2"; echo "#   expected: $3"; fi
}
# finish: the count line; fails if any check failed. The suite's last command,
# so that this is its exit status.
finish() {
    DONE=1
    echo "$PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
}
# At exit before finish (a setup step failed under set -e): count that as a
# failure, show the last $EARLY_STOP_LOG lines of the server log if set, and
# still print the count line.
EARLY_STOP_LOG=
_suite_stopped_early() {
    [ -z "$DONE" ] || return 0
    notok "stopped early: a setup step failed"
    [ -z "$EARLY_STOP_LOG" ] || cluster_log "$EARLY_STOP_LOG" | sed 's/^/# server: /'
    echo "$PASSED passed, $FAILED failed"
}

# --- the cluster ---------------------------------------------------------------
# use_cluster: the cluster the PG* variables name (test/run-tests.sh sets them),
# or without PGHOST a throwaway one.
use_cluster() {
    [ -n "${PGHOST:-}" ] || cluster_start
    PGBIN=${PGBIN:-$(pg_config --bindir)}
    _suite_at_exit
}
# own_cluster OPTS: always a throwaway cluster of the suite's own, started with
# the server options OPTS (kept in JWT_SERVER_OPTS for a restart). An early stop
# shows the end of its server log.
own_cluster() {
    unset PGHOST PGPORT PGDATABASE PGUSER
    # below the kernel's ephemeral range (32768 and up): a cluster that listens on
    # 127.0.0.1 (tls_cluster) must not find its port held by an outgoing connection
    JWT_TEST_PORT=$(( 29100 + RANDOM % 800 )) JWT_SERVER_OPTS=$1
    cluster_start
    PGBIN=${PGBIN:-$(pg_config --bindir)}
    EARLY_STOP_LOG=20
    _suite_at_exit
}
# Registered after the cluster's own handler, so they run before it (newest
# first): the suite's cleanups, then the early-stop line, then cluster_stop.
_suite_at_exit() {
    at_exit _suite_stopped_early
    at_exit _suite_cleanup
    # A write to a process that has quit would kill the suite by SIGPIPE, which
    # runs no EXIT handler: no "not ok", no count line, no cleanup.  Exit instead.
    trap 'echo "# SIGPIPE: the suite wrote to a process that had quit" >&2; exit 141' PIPE
}

# --- a cluster with TLS --------------------------------------------------------
# tls_cluster OPTS: own_cluster with ssl = on and a self-signed certificate for
# localhost made here (removed at exit), listening on 127.0.0.1 as well as its
# socket, started with the further server options OPTS.
tls_cluster() {
    local certs
    certs=$(mktemp -d /tmp/jwt-certs.XXXXXX)
    remove_at_exit "$certs"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
        -keyout "$certs/server.key" -out "$certs/server.crt" >/dev/null 2>&1
    chmod 755 "$certs"; chmod 600 "$certs/server.key"
    if [ "$(id -u)" = 0 ]; then chown -R "${JWT_SERVER_USER:-postgres}" "$certs"; fi
    own_cluster "-c listen_addresses=127.0.0.1 -c ssl=on -c ssl_cert_file=$certs/server.crt -c ssl_key_file=$certs/server.key $1"
}
# state CMD...: the SQLSTATE of the first error CMD prints (psql with VERBOSITY=sqlstate), or nothing.
state() { { "$@" 2>&1 || true; } | grep -o '^ERROR:  [0-9A-Z]\{5\}' | head -n 1 | cut -c9-; }
# vtcp MODE SQL: its output and errors (VERBOSITY=verbose) over TCP with sslmode MODE, as postgres.
vtcp() { "$PGBIN/psql" -X -A -t -q -v VERBOSITY=verbose "host=127.0.0.1 port=$PGPORT dbname=postgres user=postgres sslmode=$1" -c "$2" 2>&1 || true; }
# sys SETTING VALUE: ALTER SYSTEM (the session must know the setting: LOAD first)
sys() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -c "LOAD 'jwt'" -c "ALTER SYSTEM SET $1 = '$2'"; }
# settle SETTING VALUE: reload the configuration and wait until a new session shows VALUE.
settle() {
    "$PGBIN/psql" -X -A -t -q -v ON_ERROR_STOP=1 -c "SELECT pg_reload_conf()" >/dev/null
    for _ in $(seq 50); do
        [ "$("$PGBIN/psql" -X -A -t -q -c "LOAD 'jwt'" -c "SHOW $1")" = "$2" ] && return 0; sleep 0.1
    done; return 1
}

# --- a crash -----------------------------------------------------------------------
# crash_restart: SIGKILL the postmaster of own_cluster's cluster and every child,
# wait until they are gone and start the server again (crash recovery), with the
# same options. Sets CRASH_PM (the killed postmaster's pid) and CRASH_LOG_LINES
# (the server log's length before the restart).
crash_restart() {
    local data=$CLUSTER_DIR/data pid children
    CRASH_PM=$(head -n 1 "$data/postmaster.pid")
    read -r -a children <<<"$(ps -o pid= --ppid "$CRASH_PM" | tr '\n' ' ')"
    echo "# killing postmaster $CRASH_PM and ${#children[@]} children with SIGKILL"
    kill -KILL "$CRASH_PM" "${children[@]}"
    # Nothing may reap them here (see /work/shared/TESTING-NOTES.md): a process is
    # gone once /proc says it is a zombie, or once it has no /proc entry at all.
    for pid in "$CRASH_PM" "${children[@]}"; do
        for _ in $(seq 100); do _gone "$pid" && break; sleep 0.1; done
        _gone "$pid" || { echo "# process $pid did not die" >&2; exit 1; }
    done
    # A zombie postmaster keeps its pid, so the server would think it still runs.
    rm -f "$data/postmaster.pid" "$CLUSTER_DIR/sock/.s.PGSQL.$JWT_TEST_PORT.lock"
    CRASH_LOG_LINES=$(cluster_log | wc -l)
    as_server_user "$PGBIN/pg_ctl" -D "$data" -l "$CLUSTER_DIR/server.log" -w \
        -o "-p $JWT_TEST_PORT -k $CLUSTER_DIR/sock -c listen_addresses='' -c fsync=off $JWT_SERVER_OPTS" \
        start >/dev/null || { cluster_log 30 >&2; exit 1; }
}
_gone() { [ ! -e "/proc/$1" ] || grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
# crash_recovered: yes if the server logged a crash recovery since crash_restart, else no.
crash_recovered() {
    cluster_log | tail -n +$((CRASH_LOG_LINES + 1)) | grep -q 'automatic recovery in progress' && echo yes || echo no
}

# --- cleanup: the session, the standby, the databases (and roles), the files ---
SUITE_DROPS=() SUITE_REMOVE=() SESSION_PSQL_PID='' SB=''
_suite_cleanup() {
    trap '' INT TERM HUP   # a second signal must not cut the cleanups short
    if [ -n "$SESSION_PSQL_PID" ]; then kill "$SESSION_PSQL_PID" 2>/dev/null || true; fi
    if [ -n "$SB" ]; then _standby_stop; fi
    if [ ${#SUITE_DROPS[@]} -gt 0 ]; then
        local sql args=()
        for sql in "${SUITE_DROPS[@]}"; do args+=(-c "$sql"); done
        "$PGBIN/psql" -X -q -d postgres "${args[@]}" >/dev/null 2>&1 || true
    fi
    if [ ${#SUITE_REMOVE[@]} -gt 0 ]; then rm -rf "${SUITE_REMOVE[@]}"; fi
}
# remove_at_exit PATH: rm -rf PATH at exit.
remove_at_exit() { SUITE_REMOVE+=("$1"); }
# drop_at_exit SQL: a DROP ... IF EXISTS to run at exit, after the earlier ones.
drop_at_exit() { SUITE_DROPS+=("$1"); }
# own_database NAME [OPTIONS]: CREATE DATABASE NAME [OPTIONS], dropped at exit.
own_database() {
    drop_at_exit "DROP DATABASE IF EXISTS ${1%% *}"
    "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $*" >/dev/null
}

# p SQL: one value from the database $DB (errors are fatal under set -e).
p() { "$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }

# --- a streaming hot standby ---------------------------------------------------
# standby_start: a pg_basebackup of the cluster (initdb -A trust allows local
# replication) running as a hot standby in $SB, on port $SB_PORT and socket
# directory $SB/sock; stopped and removed at exit.
standby_start() {
    SB=$(mktemp -d /tmp/jwt-standby.XXXXXX)
    SB_PORT=$(( 55000 + RANDOM % 1000 ))
    while [ "$SB_PORT" = "${PGPORT:-}" ]; do SB_PORT=$(( 55000 + RANDOM % 1000 )); done
    chmod 755 "$SB"; mkdir "$SB/sock"
    if [ "$(id -u)" = 0 ]; then chown -R "${JWT_SERVER_USER:-postgres}" "$SB"; fi
    as_server_user "$PGBIN/pg_basebackup" -D "$SB/data" -R -c fast -X stream -U postgres
    # The primary's preload list too: it may have been given on its command line,
    # which a base backup does not copy (jwt.key_encryption_key needs jwt preloaded).
    local preload
    preload=$("$PGBIN/psql" -X -A -t -d postgres -c "SHOW shared_preload_libraries")
    # hot_standby_feedback: a standby session's open snapshot holds back the
    # primary's cleanup (autovacuum of a catalog, say), which would otherwise
    # conflict with it in replay and end the session at a random moment
    as_server_user "$PGBIN/pg_ctl" -D "$SB/data" -l "$SB/server.log" -w -o \
        "-p $SB_PORT -k $SB/sock -c listen_addresses='' -c hot_standby=on -c fsync=off \
         -c hot_standby_feedback=on -c shared_preload_libraries='$preload'" start >/dev/null ||
        { cat "$SB/server.log" >&2; exit 1; }
}
# Stop the standby (fast, then immediate) and remove $SB: cluster_stop on $SB,
# in a subshell (the suite's own cluster keeps its CLUSTER_DIR).
_standby_stop() ( CLUSTER_DIR=$SB cluster_stop )
# s SQL: the output of SQL in a new standby session in $DB, with errors as
# "ERROR:  SQLSTATE" lines.
s() { "$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -v VERBOSITY=sqlstate \
          -h "$SB/sock" -p "$SB_PORT" -d "$DB" -c "$1" 2>&1; }
# wait_replay: wait until the standby has replayed everything the primary has written.
wait_replay() {
    local lsn
    lsn=$("$PGBIN/psql" -X -A -t -d postgres -c "SELECT pg_current_wal_lsn()")
    for _ in $(seq 300); do
        [ "$(s "SELECT pg_last_wal_replay_lsn() >= '$lsn'" 2>/dev/null)" = t ] && return 0
        sleep 0.1
    done
    echo "# the standby did not replay up to $lsn in 30 s" >&2; return 1
}

# --- one long-lived psql session (a coprocess) --------------------------------
# psql_session_start PSQL-ARGS...: start it (killed at exit), e.g. on the standby
# with -h "$SB/sock" -p "$SB_PORT" -d "$DB".
psql_session_start() {
    coproc SESSION { exec "$PGBIN/psql" -X -q -A -t -v VERBOSITY=sqlstate "$@" 2>&1; }
    # shellcheck disable=SC2153  # SESSION_PID: set by coproc
    SESSION_PSQL_PID=$SESSION_PID   # bash unsets SESSION_PID when the coprocess ends
    SESSION_IN=${SESSION[1]} SESSION_OUT=${SESSION[0]}
}
# psql_session_stop: end that session (psql reads \q and quits) and wait until it
# has, before psql_session_start starts another.  Not in_session "\\q": psql quits
# on the first line, and the second (\echo) then hits a closed pipe, whose SIGPIPE
# killed the suite without a word (test/sessions.t.sh, about one run in eight).
psql_session_stop() {
    printf '\\q\n' >&"$SESSION_IN"
    wait "$SESSION_PSQL_PID" 2>/dev/null || true
    SESSION_PSQL_PID=''
}
# in_session SQL: its output (rows and "ERROR:  SQLSTATE" lines) in that session.
in_session() {
    local line out=''
    printf '%s\n\\echo __done__\n' "$1" >&"$SESSION_IN"
    while IFS= read -r -t 30 line <&"$SESSION_OUT"; do
        [ "$line" = __done__ ] && { printf '%s' "$out"; return 0; }
        out+=${out:+$'\n'}$line
    done
    echo "# no answer from the psql session" >&2; return 1
}
