#!/usr/bin/env bash
# Revocations are ordinary WAL-logged rows: committed revocations (by jti and
# by subject) survive a crash of the server. Starts its own cluster, revokes,
# SIGKILLs the postmaster and its children, restarts (crash recovery) and
# checks that the revoked tokens are still refused and the others are not.
set -euo pipefail
cd "$(dirname "$0")/.."
. test/suite.sh
# synchronous_commit=on (the default, said explicitly): a commit that returned
# is in the WAL on disk, which is what this test relies on. fsync=off (from
# cluster.sh) does not matter: the OS survives, only the server is killed.
own_cluster "-c synchronous_commit=on"

# q SQL: one value (errors abort); sqlstate SQL: the SQLSTATE of the error, or
# "ok:<value>" when there is none.
q() { "$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"; }
sqlstate() {
    local out
    out=$("$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -v VERBOSITY=sqlstate -c "$1" 2>&1) &&
        { echo "ok:$out"; return 0; }
    sed -n 's/^\(psql:[^ ]* \)\{0,1\}ERROR:  \([0-9A-Z]\{5\}\)$/\2/p' <<<"$out" | tail -n 1
}

# --- before the crash ---
q "CREATE EXTENSION jwt"
q "SELECT jwt_generate_key('ES256')" >/dev/null
T1=$(q "SELECT jwt_sign('{\"sub\":\"alice\"}')")
T2=$(q "SELECT jwt_sign('{\"sub\":\"bob\"}')")
check "T1 verifies before revocation" "$(q "SELECT jwt_verify('$T1')->>'sub'")" alice
check "T2 verifies before revocation" "$(q "SELECT jwt_verify('$T2')->>'sub'")" bob
# One -c per statement: psql before 15 shows only the last result of a -c string.
check "jwt_revoke(T1) (committed)" \
    "$("$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -c BEGIN -c "SELECT jwt_revoke('$T1', 'crash test')" -c COMMIT)" t
q "BEGIN; SELECT jwt_revoke_subject('bob'); COMMIT;" >/dev/null
check "T1 refused before the crash (28J04)" "$(sqlstate "SELECT jwt_verify('$T1')")" 28J04
check "T2 refused before the crash (28J04)" "$(sqlstate "SELECT jwt_verify('$T2')")" 28J04
# A bob token issued in a later second than the cut-off is not covered by it.
sleep 1.1

# --- crash: SIGKILL the postmaster and every child; restart: crash recovery replays the WAL ---
crash_restart
check "the server restarted with a new postmaster" \
    "$([ "$(head -n 1 "$CLUSTER_DIR/data/postmaster.pid")" != "$CRASH_PM" ] && echo yes || echo no)" yes
check "the restart was a crash recovery" "$(crash_recovered)" yes

# --- after the crash ---
check "T1 (revoked by jti) refused after the crash (28J04)" "$(sqlstate "SELECT jwt_verify('$T1')")" 28J04
check "T2 (subject cut-off) refused after the crash (28J04)" "$(sqlstate "SELECT jwt_verify('$T2')")" 28J04
check "jwt_authenticate(T1) refused after the crash (28J04)" \
    "$(sqlstate "SELECT jwt_authenticate('$T1')")" 28J04
check "jwt_is_valid(T1) is false" "$(q "SELECT jwt_is_valid('$T1')")" f
check "jwt_is_revoked(T1) and jwt_is_revoked(T2)" "$(q "SELECT jwt_is_revoked('$T1'), jwt_is_revoked('$T2')")" "t|t"
check "jwt_revoked_tokens has exactly one row" "$(q "SELECT count(*) FROM jwt_revoked_tokens")" 1
check "it is T1's jti, with its reason" \
    "$(q "SELECT jti = (jwt_decode('$T1')).payload->>'jti' AND sub = 'alice' AND reason = 'crash test' FROM jwt_revoked_tokens")" t
check "bob's cut-off survived" "$(q "SELECT count(*) FROM jwt_revoked_subjects WHERE sub = 'bob'")" 1
T3=$(q "SELECT jwt_sign('{\"sub\":\"alice\"}')")
check "a fresh token T3 for alice verifies" "$(q "SELECT jwt_verify('$T3')->>'sub'")" alice
T4=$(q "SELECT jwt_sign('{\"sub\":\"bob\"}')")
check "a fresh token for bob, issued after the cut-off, verifies" "$(q "SELECT jwt_verify('$T4')->>'sub'")" bob

finish
