#!/usr/bin/env bash
# The verified-token cache (issue 17) across sessions and on a hot standby: a
# session that has a token cached (its verification a hit) refuses it as soon
# as another session retires or removes its key, revokes it or cuts off its
# subject, and a standby session as soon as the standby replays the change.
# Every refusal comes from the same checks a miss runs; the keyring's
# invalidation also empties the cache.
set -euo pipefail
cd "$(dirname "$0")/.."
. test/suite.sh
use_cluster
standby_start

DB=jwt_token_cache_$$
own_database "$DB"
p "CREATE EXTENSION jwt" >/dev/null
p "SELECT jwt_generate_key('ES256', 'es-1'), jwt_generate_key('ES256', 'es-2'), jwt_generate_key('HS256', 'hs-1'), jwt_generate_key('ES256', 'es-3')" >/dev/null
sign() { p "SELECT jwt_sign('$1', header => '{\"kid\":\"$2\"}')"; }
T_RETIRE=$(sign '{"sub":"a"}' es-1)
T_REMOVE=$(sign '{"sub":"b"}' es-2)
T_REVOKE=$(sign '{"sub":"c"}' hs-1)
T_CUTOFF=$(sign '{"sub":"d"}' hs-1)
S_RETIRE=$(sign '{"sub":"e"}' es-3)
S_REVOKE=$(sign '{"sub":"f"}' es-3)
S_CUTOFF=$(sign '{"sub":"g"}' es-3)

# cached T: verify T three times in the session, then once more: "sub hit" if that was a hit
cached() {
    in_session "SELECT jwt_verify('$1')->>'sub'; SELECT jwt_verify('$1')->>'sub'; SELECT jwt_verify('$1')->>'sub';" >/dev/null
    in_session "SELECT hits AS h FROM jwt_token_cache_stats() \\gset
SELECT jwt_verify('$1')->>'sub' AS sub \\gset
SELECT :'sub' || CASE WHEN hits > :h THEN ' hit' ELSE ' miss' END FROM jwt_token_cache_stats();"
}

# --- two sessions on the primary ---
psql_session_start -d "$DB"
check "session: a keyring ES256 token is cached" "$(cached "$T_RETIRE")" "a hit"
check "session: a second one" "$(cached "$T_REMOVE")" "b hit"
check "session: an HS256 one to revoke" "$(cached "$T_REVOKE")" "c hit"
check "session: an HS256 one whose subject is cut off" "$(cached "$T_CUTOFF")" "d hit"

# Attack: a token of a key another session retired, replayed in a session that has it cached.
p "SELECT jwt_retire_key('es-1')" >/dev/null
check "retired in another session: refused (28J0D)" \
    "$(in_session "SELECT jwt_verify('$T_RETIRE')->>'sub';")" "ERROR:  28J0D"
check "the keyring's invalidation emptied the cache" \
    "$(in_session "SELECT flushes > 0 FROM jwt_token_cache_stats();")" t
# Attack: a token of a key another session removed from the keyring.
check "session: cached again" "$(cached "$T_REMOVE")" "b hit"
p "DELETE FROM jwt_keys WHERE kid = 'es-2'" >/dev/null
check "removed in another session: refused (28J0D)" \
    "$(in_session "SELECT jwt_verify('$T_REMOVE')->>'sub';")" "ERROR:  28J0D"
# Attack: a token another session revoked, in an open transaction that had it cached.
check "session: cached again" "$(cached "$T_REVOKE")" "c hit"
in_session "BEGIN;" >/dev/null
check "in an open transaction: still verifies" "$(in_session "SELECT jwt_verify('$T_REVOKE')->>'sub';")" c
p "SELECT jwt_revoke('$T_REVOKE')" >/dev/null
check "revoked in another session: refused in the same open transaction (28J04)" \
    "$(in_session "SELECT jwt_verify('$T_REVOKE')->>'sub';")" "ERROR:  28J04"
in_session "ROLLBACK;" >/dev/null
# Attack: a token whose subject another session cut off.
check "session: cached again" "$(cached "$T_CUTOFF")" "d hit"
p "SELECT jwt_revoke_subject('d')" >/dev/null
check "subject cut off in another session: refused (28J04)" \
    "$(in_session "SELECT jwt_verify('$T_CUTOFF')->>'sub';")" "ERROR:  28J04"
printf '\\q\n' >&"$SESSION_IN"
wait "$SESSION_PSQL_PID" 2>/dev/null || true

# --- a standby session ---
wait_replay
psql_session_start -h "$SB/sock" -p "$SB_PORT" -d "$DB"
check "standby session: a token is cached" "$(cached "$S_RETIRE")" "e hit"
check "standby session: another" "$(cached "$S_REVOKE")" "f hit"
check "standby session: a third" "$(cached "$S_CUTOFF")" "g hit"
# Attack: a token revoked on the primary, replayed on a standby that has it cached.
p "SELECT jwt_revoke('$S_REVOKE')" >/dev/null
wait_replay
check "standby: revoked on the primary, refused once replayed (28J04)" \
    "$(in_session "SELECT jwt_verify('$S_REVOKE')->>'sub';")" "ERROR:  28J04"
# Attack: a subject cut off on the primary.
p "SELECT jwt_revoke_subject('g')" >/dev/null
wait_replay
check "standby: subject cut off on the primary, refused once replayed (28J04)" \
    "$(in_session "SELECT jwt_verify('$S_CUTOFF')->>'sub';")" "ERROR:  28J04"
# Attack: a key retired on the primary.
check "standby session: cached again" "$(cached "$S_RETIRE")" "e hit"
p "SELECT jwt_retire_key('es-3')" >/dev/null
wait_replay
check "standby: key retired on the primary, refused once replayed (28J0D)" \
    "$(in_session "SELECT jwt_verify('$S_RETIRE')->>'sub';")" "ERROR:  28J0D"
check "standby: the replayed invalidation emptied the cache" \
    "$(in_session "SELECT flushes > 0 FROM jwt_token_cache_stats();")" t
printf '\\q\n' >&"$SESSION_IN"
wait "$SESSION_PSQL_PID" 2>/dev/null || true

# --- review of issue 17: DROP EXTENSION; CREATE EXTENSION in the session that has the token cached ---
psql_session_start -d "$DB"
p "SELECT jwt_generate_key('HS256', 'dc-1')" >/dev/null
T_DC=$(sign '{"sub":"h"}' dc-1)
check "session: a token of kid dc-1 is cached" "$(cached "$T_DC")" "h hit"
# Attack: the extension dropped and created again in the same backend (the keyring table gets a
# new OID), and another secret put under the same kid: the cached token must not verify.
in_session "DROP EXTENSION jwt CASCADE; CREATE EXTENSION jwt; SELECT jwt_add_key('another secret for dc-1, 32 bytes!', 'HS256', 'dc-1');" >/dev/null
check "recreated extension, same kid, other secret: refused (28J03)" \
    "$(in_session "SELECT jwt_verify('$T_DC')->>'sub';")" "ERROR:  28J03"
check "recreated extension, same kid, other secret: refused again (28J03)" \
    "$(in_session "SELECT jwt_verify('$T_DC')->>'sub';")" "ERROR:  28J03"
printf '\\q\n' >&"$SESSION_IN"
wait "$SESSION_PSQL_PID" 2>/dev/null || true

finish
