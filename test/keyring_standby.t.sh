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
. test/suite.sh
use_cluster
standby_start

# --- on the primary: a keyring with two keys and a token from each ---
DB=jwt_standby_$$
own_database "$DB"
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

# --- one long-lived standby session ---
psql_session_start -h "$SB/sock" -p "$SB_PORT" -d "$DB"
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

finish
