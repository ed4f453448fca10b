#!/usr/bin/env bash
# Revocation on a hot standby: a token revoked on the primary (by jti, or by a
# subject cut-off) is refused on the standby as soon as the standby replays
# the revocation, by jwt_verify and jwt_authenticate, even in a standby
# session that verified the token before (and in a transaction opened before:
# the lookups take the latest snapshot).
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

DB=jwt_revstandby_$$
SB=$(mktemp -d /tmp/jwt-standby.XXXXXX)
SB_PORT=$(( 55000 + RANDOM % 1000 ))
while [ "$SB_PORT" = "${PGPORT:-}" ]; do SB_PORT=$(( 55000 + RANDOM % 1000 )); done
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
# which a base backup does not copy.
PRELOAD=$("$PGBIN/psql" -X -A -t -d postgres -c "SHOW shared_preload_libraries")
as_server_user "$PGBIN/pg_ctl" -D "$SB/data" -l "$SB/server.log" -w -o \
    "-p $SB_PORT -k $SB/sock -c listen_addresses='' -c hot_standby=on -c fsync=off \
     -c shared_preload_libraries='$PRELOAD'" start >/dev/null ||
    { cat "$SB/server.log" >&2; exit 1; }

# --- on the primary: a key, a token by jti, tokens of a subject to cut off ---
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $DB" >/dev/null
p "CREATE EXTENSION jwt" >/dev/null
p "SELECT jwt_generate_key('ES256')" >/dev/null
T=$(p "SELECT jwt_sign('{\"sub\":\"alice\"}')")
OTHER=$(p "SELECT jwt_sign('{\"sub\":\"alice\"}')")   # same subject, another jti
C1=$(p "SELECT jwt_sign('{\"sub\":\"carol\"}')")
C2=$(p "SELECT jwt_sign('{\"sub\":\"carol\"}')")
wait_replay

check "the standby is in recovery" "$(s "SELECT pg_is_in_recovery()")" t
check "standby: jwt_verify(T) returns the claims" "$(s "SELECT jwt_verify('$T')->>'sub'")" alice
check "standby: jwt_is_revoked(T) is false" "$(s "SELECT jwt_is_revoked('$T')")" f

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

# --- revocation by jti ---
check "session: T verifies" "$(in_session "SELECT jwt_verify('$T')->>'sub';")" alice
check "session: jwt_authenticate(T) in a transaction, then jwt_claim('sub')" \
    "$(in_session "BEGIN; SELECT jwt_authenticate('$T')->>'sub'; SELECT jwt_claim('sub'); COMMIT;")" \
    "alice"$'\n'"alice"
check "session: the identity ended with the transaction" "$(in_session "SELECT jwt_claims() IS NULL;")" t
check "session: the standby is read-only: jwt_revoke fails with 25006" \
    "$(in_session "SELECT jwt_revoke('$T');")" "ERROR:  25006"

check "primary: jwt_revoke(T)" "$(p "SELECT jwt_revoke('$T')")" t
wait_replay

check "session: jwt_verify(T) now refused (28J04)" "$(in_session "SELECT jwt_verify('$T');")" "ERROR:  28J04"
check "session: jwt_authenticate(T) now refused (28J04)" \
    "$(in_session "SELECT jwt_authenticate('$T');")" "ERROR:  28J04"
check "session: and no identity was set" "$(in_session "SELECT jwt_claims() IS NULL;")" t
check "session: jwt_is_valid(T) is false" "$(in_session "SELECT jwt_is_valid('$T');")" f
check "session: jwt_is_revoked(T) is true" "$(in_session "SELECT jwt_is_revoked('$T');")" t
check "session: another token of the same subject still verifies" \
    "$(in_session "SELECT jwt_authenticate('$OTHER')->>'sub';")" alice
check "new standby session: jwt_verify(T) refused (28J04)" "$(s "SELECT jwt_verify('$T')")" "ERROR:  28J04"
check "new standby session: jwt_is_revoked(T) is true" "$(s "SELECT jwt_is_revoked('$T')")" t
check "standby: the revocation row is there" "$(s "SELECT count(*) FROM jwt_revoked_tokens")" 1

# --- a subject cut-off ---
check "session: carol's tokens verify" \
    "$(in_session "SELECT jwt_verify('$C1')->>'sub', jwt_authenticate('$C2')->>'sub';")" "carol|carol"
# A transaction left open across the cut-off, REPEATABLE READ: its snapshot
# predates the revocation, but revocation lookups take the latest snapshot.
check "session: C1 verifies in an open REPEATABLE READ transaction" \
    "$(in_session "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT jwt_verify('$C1')->>'sub';")" carol

p "SELECT jwt_revoke_subject('carol')" >/dev/null
wait_replay

check "session: C1 refused in the same open transaction (28J04)" \
    "$(in_session "SELECT jwt_verify('$C1');")" "ERROR:  28J04"
in_session "ROLLBACK;" >/dev/null
check "session: jwt_verify(C1) refused (28J04)" "$(in_session "SELECT jwt_verify('$C1');")" "ERROR:  28J04"
check "session: jwt_authenticate(C2) refused (28J04)" \
    "$(in_session "SELECT jwt_authenticate('$C2');")" "ERROR:  28J04"
check "session: jwt_is_revoked(C1), jwt_is_revoked(C2)" \
    "$(in_session "SELECT jwt_is_revoked('$C1'), jwt_is_revoked('$C2');")" "t|t"
check "new standby session: jwt_authenticate(C2) refused (28J04)" \
    "$(s "SELECT jwt_authenticate('$C2')")" "ERROR:  28J04"
check "session: alice is not affected by carol's cut-off" \
    "$(in_session "SELECT jwt_verify('$OTHER')->>'sub';")" alice

DONE=1
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
