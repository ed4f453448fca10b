#!/usr/bin/env bash
# The keyring on a hot standby: tokens verify there (verification writes
# nothing), and a key retired on the primary is refused as soon as the standby
# replays it, even by a session that already has the keyring cached (the
# relcache invalidation in the commit record reaches standby backends).
# The primary is the cluster the PG* variables name (test/run-tests.sh sets
# them; initdb -A trust allows local replication); without PGHOST a throwaway
# cluster is started. The standby is a pg_basebackup of it, on its own port
# and socket directory, stopped and removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
. test/cluster.sh
[ -n "${PGHOST:-}" ] || cluster_start
PGBIN=${PGBIN:-$(pg_config --bindir)}

PASSED=0 FAILED=0
ok()    { PASSED=$((PASSED + 1)); echo "ok - $1"; }
notok() { FAILED=$((FAILED + 1)); echo "not ok - $1"; }
check() { if [ "$2" = "$3" ]; then ok "$1"; else notok "$1"; echo "#   got:      $2"; echo "#   expected: $3"; fi; }
# A setup step that fails (set -e) still ends with the summary line.
DONE=
summary() { [ -n "$DONE" ] || { notok "stopped early: a setup step failed"; echo "$PASSED passed, $FAILED failed"; }; }
at_exit summary

DB=jwt_standby_$$
SB=$(mktemp -d /tmp/jwt-standby.XXXXXX)
SB_PORT=$(( 55000 + RANDOM % 1000 ))
PSQL_PID=
cleanup() {
    trap '' INT TERM HUP   # a second signal must not cut the cleanups short
    if [ -n "$PSQL_PID" ]; then kill "$PSQL_PID" 2>/dev/null || true; fi
    (CLUSTER_DIR=$SB; cluster_stop)   # stops the standby (fast, then immediate), removes $SB
    "$PGBIN/psql" -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
}
at_exit cleanup

# p SQL / s SQL: one value from the primary / from a new standby session.
p() { "$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }
s() { "$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -v VERBOSITY=sqlstate \
          -h "$SB/sock" -p "$SB_PORT" -d "$DB" -c "$1" 2>&1; }
# Wait until the standby has replayed everything the primary has written.
wait_replay() {
    local lsn
    lsn=$("$PGBIN/psql" -X -A -t -d postgres -c "SELECT pg_current_wal_lsn()")
    for _ in $(seq 300); do
        [ "$(s "SELECT pg_last_wal_replay_lsn() >= '$lsn'" 2>/dev/null)" = t ] && return 0
        sleep 0.1
    done
    echo "# the standby did not replay up to $lsn in 30 s" >&2; return 1
}

# --- the standby ---
chmod 755 "$SB"; mkdir "$SB/sock"
[ "$(id -u)" = 0 ] && chown -R "${JWT_SERVER_USER:-postgres}" "$SB"
as_server_user "$PGBIN/pg_basebackup" -D "$SB/data" -R -c fast -X stream -U postgres
# The primary's preload list too: it may have been given on its command line,
# which a base backup does not copy (jwt.key_encryption_key needs jwt preloaded).
PRELOAD=$("$PGBIN/psql" -X -A -t -d postgres -c "SHOW shared_preload_libraries")
as_server_user "$PGBIN/pg_ctl" -D "$SB/data" -l "$SB/server.log" -w -o \
    "-p $SB_PORT -k $SB/sock -c listen_addresses='' -c hot_standby=on -c fsync=off \
     -c shared_preload_libraries='$PRELOAD'" start >/dev/null ||
    { cat "$SB/server.log" >&2; exit 1; }

# --- on the primary: a keyring with two keys and a token from each ---
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $DB" >/dev/null
p "CREATE EXTENSION jwt" >/dev/null
KID=$(p "SELECT jwt_generate_key('ES256')")
KID2=$(p "SELECT jwt_generate_key('HS256', 'hs-2')")
T=$(p "SELECT jwt_sign('{\"sub\":\"a\"}', header => '{\"kid\":\"$KID\"}')")
T2=$(p "SELECT jwt_sign('{\"sub\":\"b\"}', header => '{\"kid\":\"$KID2\"}')")
wait_replay

check "the standby is in recovery" "$(s "SELECT pg_is_in_recovery()")" t
check "standby: jwt_verify(T) returns the claims" "$(s "SELECT jwt_verify('$T')->>'sub'")" a
check "standby: jwt_jwks() publishes the key" \
    "$(s "SELECT jwt_jwks()->'keys'->0->>'kid'")" "$KID"

# --- one long-lived standby session (a coprocess) ---
coproc SESSION { exec "$PGBIN/psql" -X -q -A -t -v VERBOSITY=sqlstate \
                     -h "$SB/sock" -p "$SB_PORT" -d "$DB" 2>&1; }
PSQL_PID=$SESSION_PID   # bash unsets SESSION_PID when the coprocess ends
IN=${SESSION[1]} OUT=${SESSION[0]}
# in_session SQL: its output (rows and "ERROR:  SQLSTATE" lines) in that session.
in_session() {
    local line out=''
    printf '%s\n\\echo __done__\n' "$1" >&"$IN"
    while IFS= read -r -t 30 line <&"$OUT"; do
        [ "$line" = __done__ ] && { printf '%s' "$out"; return 0; }
        out+=${out:+$'\n'}$line
    done
    echo "# no answer from the standby session" >&2; return 1
}
check "session: T verifies (the keyring is now cached)" "$(in_session "SELECT jwt_verify('$T')->>'sub';")" a
check "session: the standby is read-only: jwt_generate_key fails with 25006" \
    "$(in_session "SELECT jwt_generate_key('ES256');")" "ERROR:  25006"
# The same, inside a transaction left open across the retirement (read committed).
check "session: T2 verifies in an open transaction" \
    "$(in_session "BEGIN; SELECT jwt_verify('$T2')->>'sub';")" b

# --- retire both keys on the primary ---
check "primary: jwt_retire_key" "$(p "SELECT jwt_retire_key('$KID'), jwt_retire_key('$KID2')")" "t|t"
wait_replay

check "session: T2 is refused in the same open transaction (28J0D)" \
    "$(in_session "SELECT jwt_verify('$T2')->>'sub'; COMMIT;")" "ERROR:  28J0D"   # COMMIT: rolls back
check "session: T is refused in the same session (28J0D)" \
    "$(in_session "SELECT jwt_verify('$T')->>'sub';")" "ERROR:  28J0D"
check "new standby session: T is refused (28J0D)" "$(s "SELECT jwt_verify('$T')")" "ERROR:  28J0D"
check "standby: the key is listed as retired" \
    "$(s "SELECT state FROM jwt_key_list WHERE kid = '$KID'")" retired
check "standby: jwt_jwks() no longer publishes it" "$(s "SELECT jwt_jwks()")" '{"keys": []}'

DONE=1
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
