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
. test/suite.sh
use_cluster
standby_start

# --- on the primary: a key, a token by jti, tokens of a subject to cut off ---
DB=jwt_revstandby_$$
own_database "$DB"
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

# --- one long-lived standby session ---
psql_session_start -h "$SB/sock" -p "$SB_PORT" -d "$DB"

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
    "$(in_session "BEGIN; SELECT jwt_authenticate('$OTHER')->>'sub'; COMMIT;")" alice
check "new standby session: jwt_verify(T) refused (28J04)" "$(s "SELECT jwt_verify('$T')")" "ERROR:  28J04"
check "new standby session: jwt_is_revoked(T) is true" "$(s "SELECT jwt_is_revoked('$T')")" t
check "standby: the revocation row is there" "$(s "SELECT count(*) FROM jwt_revoked_tokens")" 1

# --- a subject cut-off ---
check "session: carol's tokens verify" \
    "$(in_session "BEGIN; SELECT jwt_verify('$C1')->>'sub', jwt_authenticate('$C2')->>'sub'; COMMIT;")" "carol|carol"
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

# The revocation cache (src/revocation.c): after enough checks the session
# keeps the lists in memory; a revocation replayed from the primary drops it.
check "session: 2000 checks load the revocation cache" \
    "$(in_session "\\set VERBOSITY default
SET client_min_messages = debug1;
SELECT count(*) FILTER (WHERE jwt_is_valid('$OTHER')) FROM generate_series(1, 2000);
RESET client_min_messages;
\\set VERBOSITY sqlstate")" "DEBUG:  jwt: revocation lists cached: 1 ids, 1 subjects"$'\n'"2000"
check "session: T is still refused through the cache (28J04)" \
    "$(in_session "SELECT jwt_verify('$T');")" "ERROR:  28J04"
check "primary: jwt_revoke(OTHER)" "$(p "SELECT jwt_revoke('$OTHER')")" t
wait_replay
check "session: OTHER refused once its revocation is replayed (28J04)" \
    "$(in_session "SELECT jwt_verify('$OTHER');")" "ERROR:  28J04"

finish
