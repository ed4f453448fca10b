#!/usr/bin/env bash
# Sessions survive a crash: what a refresh, a reuse detection (committed by
# its background worker), a logout and a jwt_consume committed is all there
# after SIGKILL of the postmaster and its children and crash recovery:
# nothing lost (the rotated pair works, the used token is still used) and
# nothing re-enabled (ended families and consumed tokens stay so).
set -euo pipefail
cd "$(dirname "$0")/.."
. test/suite.sh
own_cluster "-c synchronous_commit=on"

q() { "$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"; }
sqlstate() {
    local out
    out=$("$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -v VERBOSITY=sqlstate -c "$1" 2>&1) &&
        { echo "ok:$out"; return 0; }
    sed -n 's/^\(psql:[^ ]* \)\{0,1\}ERROR:  \([0-9A-Z]\{5\}\)$/\2/p' <<<"$out" | tail -n 1
}
pair() { q "SELECT access_token || '|' || refresh_token || '|' || session_id FROM $1"; }

# --- before the crash ---
q "CREATE EXTENSION jwt"
q "SELECT jwt_generate_key('ES256')" >/dev/null
IFS='|' read -r A1 R1 S1 <<<"$(pair "jwt_session_start('{\"sub\":\"alice\"}')")"
IFS='|' read -r A2 R2 _ <<<"$(pair "jwt_session_refresh('$R1')")"        # committed: R1 used
IFS='|' read -r B1 BR1 S2 <<<"$(pair "jwt_session_start('{\"sub\":\"bob\"}')")"
IFS='|' read -r B2 BR2 _ <<<"$(pair "jwt_session_refresh('$BR1')")"
check "reuse of bob's used token (28JS1)" "$(sqlstate "SELECT jwt_session_refresh('$BR1')")" 28JS1
IFS='|' read -r C1 CR1 S3 <<<"$(pair "jwt_session_start('{\"sub\":\"carol\"}')")"
check "carol logs out" "$(q "SELECT jwt_session_end('$CR1')")" t
T=$(q "SELECT jwt_sign('{\"sub\":\"dave\",\"purpose\":\"reset\"}')")
check "dave's single-use token is consumed" "$(q "SELECT jwt_consume('$T') ->> 'sub'")" dave
check "before the crash: alice's new access token authenticates" \
    "$(sqlstate "BEGIN; SELECT jwt_authenticate('$A2') ->> 'sub'; COMMIT")" ok:alice

# --- crash: SIGKILL the postmaster and every child, and crash recovery ---
crash_restart
check "the restart was a crash recovery" "$(crash_recovered)" yes

# --- nothing lost ---
check "alice's access token from the refresh authenticates" \
    "$(sqlstate "BEGIN; SELECT jwt_authenticate('$A2') ->> 'sub'; COMMIT")" ok:alice
check "alice's refresh token from the refresh rotates" \
    "$(sqlstate "SELECT session_id FROM jwt_session_refresh('$R2')")" "ok:$S1"
# --- nothing re-enabled ---
check "bob's family stays ended: refresh (28JS4)" "$(sqlstate "SELECT jwt_session_refresh('$BR2')")" 28JS4
check "bob's access tokens stay revoked (28J04)" \
    "$(sqlstate "SELECT jwt_authenticate('$B2')")|$(sqlstate "SELECT jwt_authenticate('$B1')")" "28J04|28J04"
check "carol's logged-out access token stays revoked (28J04)" "$(sqlstate "SELECT jwt_authenticate('$C1')")" 28J04
check "carol's refresh token stays ended (28JS4)" "$(sqlstate "SELECT jwt_session_refresh('$CR1')")" 28JS4
check "dave's token stays consumed (28JS5)" "$(sqlstate "SELECT jwt_consume('$T')")" 28JS5
check "alice's first refresh token is still used: presenting it is reuse (28JS1)" \
    "$(sqlstate "SELECT jwt_session_refresh('$R1')")" 28JS1
check "... which ends alice's session (28J04)" "$(sqlstate "SELECT jwt_authenticate('$A2')")" 28J04
check "the ended sessions" "$(q "SELECT string_agg(sub || ':' || end_reason, ',' ORDER BY sub) FROM jwt_sessions")" \
    "alice:refresh token reuse,bob:refresh token reuse,carol:logout"
: "$A1" "$S2" "$S3"

finish
