#!/usr/bin/env bash
# Sessions (jwt_session_*) and single-use tokens (jwt_consume) across
# sessions, databases and a hot standby:
#  - two concurrent refreshes with one refresh token: exactly one wins; the
#    other waits for it and, once it commits, is reuse (28JS1), which ends
#    the family, the winner's new tokens included (the documented race rule);
#    if the winner rolls back, the waiting one wins instead;
#  - a DPoP-bound session: a captured refresh request replayed while the
#    victim's is in flight is refused by its proof (28JD9), not reuse; a
#    refresh without a proof is refused at once (28JS6); a logout and a
#    refresh, both with the key, at once: whichever writes second sees the first;
#  - two concurrent jwt_consume of one token: one wins, the other is 28JS5
#    once the first commits (and wins if it rolls back);
#  - a refresh token of another database is unknown there (28JS3);
#  - placeholder settings a session sets before the library is loaded do not
#    widen jwt_consume or change the tokens jwt_session_start makes;
#  - on a hot standby: access tokens of a session authenticate; once its end
#    (logout, or reuse detection) is replayed they are refused (28J04), also
#    in a standby session that authenticated them before; refreshing and
#    consuming there are refused (25006);
#  - pg_dump / pg_restore keeps open sessions open, ended ones ended and
#    consumed tokens consumed.
set -euo pipefail
cd "$(dirname "$0")/.."
. test/suite.sh
use_cluster

DB=jwt_sessions_$$
own_database "$DB"
p "CREATE EXTENSION jwt" >/dev/null
p "SELECT jwt_generate_key('ES256')" >/dev/null
# sqlstate SQL [DB]: "ok:<value>", or the SQLSTATE of the error
sqlstate() {
    local out
    out=$("$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -v VERBOSITY=sqlstate -d "${2:-$DB}" -c "$1" 2>&1) &&
        { echo "ok:$out"; return 0; }
    sed -n 's/^\(psql:[^ ]* \)\{0,1\}ERROR:  \([0-9A-Z]\{5\}\)$/\2/p' <<<"$out" | tail -n 1
}
# start CLAIMS: "access|refresh|sid" of a new session
start() { p "SELECT access_token || '|' || refresh_token || '|' || session_id FROM jwt_session_start('$1')"; }
# waiting: whether a backend of $DB waits for a lock
waiting() {
    for _ in $(seq 100); do
        [ "$(p "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")" != 0 ] &&
            return 0
        sleep 0.1
    done
    return 1
}
TMP=$(mktemp -d); remove_at_exit "$TMP"

psql_session_start -d "$DB"

# --- two refreshes with one token, concurrently ---
# Attack: a thief and the victim refresh with the same token at the same
# moment; a lookup that did not lock would give both a new pair.
IFS='|' read -r A R S <<<"$(start '{"sub":"alice"}')"
check "session A: refreshes in an open transaction" \
    "$(in_session "BEGIN; SELECT session_id FROM jwt_session_refresh('$R');")" "$S"
sqlstate "SELECT session_id FROM jwt_session_refresh('$R')" >"$TMP/b" &
B_PID=$!
waiting && W=yes || W=no
check "session B: its refresh with the same token waits for A" "$W" yes
A_NEW=$(in_session "SELECT access_token || '|' || refresh_token FROM jwt_session_refresh('$R');" || true)
# (the worker that would end the family waits for A's own row lock, gives up
# after 5 s with a WARNING; A's error then rolls back A's refresh anyway)
check "session A: a second refresh in A's own transaction is reuse too (28JS1)" "$A_NEW" $'WARNING:  01000\nERROR:  28JS1'
in_session "ROLLBACK;" >/dev/null
wait "$B_PID" || true
check "session B: once A rolled back, B wins" "$(cat "$TMP/b")" "ok:$S"

# the same with A committing: B is the loser, and its presentation is reuse
IFS='|' read -r A R S <<<"$(start '{"sub":"bob"}')"
in_session "BEGIN;" >/dev/null
A_PAIR=$(in_session "SELECT access_token || '|' || refresh_token FROM jwt_session_refresh('$R');")
IFS='|' read -r A2 R2 <<<"$A_PAIR"
sqlstate "SELECT session_id FROM jwt_session_refresh('$R')" >"$TMP/b" &
B_PID=$!
waiting && W=yes || W=no
check "session B waits for A's refresh" "$W" yes
in_session "COMMIT;" >/dev/null
wait "$B_PID" || true
check "session B: after A committed, the same token is reuse (28JS1)" "$(cat "$TMP/b")" 28JS1
check "A's new access token is revoked with the family (28J04)" \
    "$(sqlstate "SELECT jwt_authenticate('$A2') ->> 'sub'")" 28J04
check "A's new refresh token is refused (28JS4)" \
    "$(sqlstate "SELECT session_id FROM jwt_session_refresh('$R2')")" 28JS4
check "exactly one refresh was recorded" "$(p "SELECT refreshes FROM jwt_sessions WHERE sid = '$S'")" 1

# --- a DPoP-bound session (RFC 9449 section 5), concurrently ---
# Attack: a thief replays the victim's captured refresh request (token and
# proof) while the victim's own is in flight.  The proof is single-use, so the
# replay is refused by it (28JD9), which is not reuse: the session lives.  A
# thief with the token but no key is refused at once (28JS6), without waiting.
# The client's key: RFC 8037's example Ed25519 pair.
PUB='{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}'
PRIV='{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}'
URL=https://app.example.com/auth/refresh
proof() { p "SELECT jws_sign(convert_to(jsonb_build_object('jti', gen_random_uuid(), 'htm', 'POST', 'htu', '$URL',
                 'iat', floor(extract(epoch FROM now())))::text, 'UTF8'), '$PRIV', 'EdDSA',
                 jsonb_build_object('typ', 'dpop+jwt', 'jwk', '$PUB'::jsonb))"; }
# blocked_or_done PID: until the backgrounded call PID has ended or a backend waits for a lock
blocked_or_done() {
    for _ in $(seq 100); do
        kill -0 "$1" 2>/dev/null || return 0
        [ "$(p "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")" != 0 ] &&
            return 0
        sleep 0.1
    done
}
IFS='|' read -r A R S <<<"$(p "SELECT access_token || '|' || refresh_token || '|' || session_id
                              FROM jwt_session_start('{\"sub\":\"dpop\"}', dpop_jkt => jwt_thumbprint('$PUB'))")"
P=$(proof)
in_session "BEGIN;" >/dev/null
A_PAIR=$(in_session "SELECT access_token || '|' || refresh_token FROM jwt_session_refresh('$R', '$P', 'POST', '$URL');")
IFS='|' read -r A2 R2 <<<"$A_PAIR"
check "DPoP session A: refreshes with its proof in an open transaction" "$([ -n "$R2" ] && echo yes)" yes
check "a thief with the token but no key, meanwhile: refused at once (28JS6)" \
    "$(timeout 20 "$PGBIN/psql" -X -q -A -t -v VERBOSITY=sqlstate -d "$DB" \
        -c "SELECT session_id FROM jwt_session_refresh('$R')" 2>&1 | sed -n 's/^ERROR:  \([0-9A-Z]\{5\}\)$/\1/p')" 28JS6
sqlstate "SELECT session_id FROM jwt_session_refresh('$R', '$P', 'POST', '$URL')" >"$TMP/b" &
B_PID=$!
blocked_or_done "$B_PID"
in_session "COMMIT;" >/dev/null
wait "$B_PID" || true
check "the victim's request replayed concurrently: refused by its proof (28JD9), not reuse" "$(cat "$TMP/b")" 28JD9
check "... the session lives: A's new refresh token refreshes with a new proof" \
    "$(sqlstate "SELECT session_id FROM jwt_session_refresh('$R2', '$(proof)', 'POST', '$URL')")" "ok:$S"
check "... and A's new access token is bound to the key" \
    "$(p "SELECT (jwt_decode('$A2')).payload -> 'cnf' ->> 'jkt' = jwt_thumbprint('$PUB')")" t

# Attack: TOCTOU between the key check and the write.  A logout with the key
# (holding the session's row) while a refresh with the key runs: the refresh,
# whose proof and key passed before, waits and then finds the session ended
# (28JS4), issuing nothing; and a logout while a refresh is in flight waits
# for it, then ends the family, the pair just issued included.
LOGOUT=https://app.example.com/auth/logout
proof_for() { p "SELECT jws_sign(convert_to(jsonb_build_object('jti', gen_random_uuid(), 'htm', 'POST', 'htu', '$1',
                 'iat', floor(extract(epoch FROM now())))::text, 'UTF8'), '$PRIV', 'EdDSA',
                 jsonb_build_object('typ', 'dpop+jwt', 'jwk', '$PUB'::jsonb))"; }
IFS='|' read -r A R S <<<"$(p "SELECT access_token || '|' || refresh_token || '|' || session_id
                              FROM jwt_session_start('{\"sub\":\"dpop2\"}', dpop_jkt => jwt_thumbprint('$PUB'))")"
check "DPoP session A: logs out with its proof in an open transaction" \
    "$(in_session "BEGIN; SELECT jwt_session_end('$R', '$(proof_for $LOGOUT)', 'POST', '$LOGOUT');")" t
sqlstate "SELECT session_id FROM jwt_session_refresh('$R', '$(proof)', 'POST', '$URL')" >"$TMP/b" &
B_PID=$!
waiting && W=yes || W=no
check "... a refresh with the key, meanwhile, waits for the logout" "$W" yes
in_session "COMMIT;" >/dev/null
wait "$B_PID" || true
check "... and then finds the session ended (28JS4)" "$(cat "$TMP/b")" 28JS4
check "... issuing nothing: one refresh token, never used" \
    "$(p "SELECT count(*) || '|' || count(used_at) FROM jwt_session_refresh_tokens WHERE sid = '$S'")" "1|0"
IFS='|' read -r A R S <<<"$(p "SELECT access_token || '|' || refresh_token || '|' || session_id
                              FROM jwt_session_start('{\"sub\":\"dpop3\"}', dpop_jkt => jwt_thumbprint('$PUB'))")"
in_session "BEGIN;" >/dev/null
A_PAIR=$(in_session "SELECT access_token || '|' || refresh_token FROM jwt_session_refresh('$R', '$(proof)', 'POST', '$URL');")
IFS='|' read -r A2 R2 <<<"$A_PAIR"
sqlstate "SELECT jwt_session_end('$R', '$(proof_for $LOGOUT)', 'POST', '$LOGOUT')" >"$TMP/b" &
B_PID=$!
waiting && W=yes || W=no
check "DPoP session A refreshes in an open transaction; a logout with the key waits for it" "$W" yes
in_session "COMMIT;" >/dev/null
wait "$B_PID" || true
check "... then ends the session" "$(cat "$TMP/b")" ok:t
check "... the access token A was just issued included (28J04)" \
    "$(sqlstate "SELECT jwt_verify('$A2') ->> 'sub'")" 28J04

# --- two consumers of one single-use token ---
# Attack: a magic link opened twice at once; a check-then-insert would let both in.
T=$(p "SELECT jwt_sign('{\"sub\":\"carol\",\"purpose\":\"reset\"}')")
check "consumer A: consumes in an open transaction" \
    "$(in_session "BEGIN; SELECT jwt_consume('$T') ->> 'sub';")" carol
sqlstate "SELECT jwt_consume('$T') ->> 'sub'" >"$TMP/b" &
B_PID=$!
waiting && W=yes || W=no
check "consumer B waits for A" "$W" yes
in_session "COMMIT;" >/dev/null
wait "$B_PID" || true
check "consumer B: after A committed, 28JS5" "$(cat "$TMP/b")" 28JS5
T=$(p "SELECT jwt_sign('{\"sub\":\"dave\"}')")
in_session "BEGIN; SELECT jwt_consume('$T');" >/dev/null
sqlstate "SELECT jwt_consume('$T') ->> 'sub'" >"$TMP/b" &
B_PID=$!
waiting && W=yes || W=no
check "consumer B waits for A (again)" "$W" yes
in_session "ROLLBACK;" >/dev/null
wait "$B_PID" || true
check "consumer B: after A rolled back, B consumes" "$(cat "$TMP/b")" ok:dave

# --- another database ---
# Attack: a refresh token issued by one database presented to another.
DB2=jwt_sessions2_$$
own_database "$DB2"
"$PGBIN/psql" -X -q -d "$DB2" -c "CREATE EXTENSION jwt" -c "SELECT jwt_generate_key('ES256')" >/dev/null
IFS='|' read -r A R S <<<"$(start '{"sub":"erin"}')"
check "a refresh token of another database is unknown there (28JS3)" \
    "$(sqlstate "SELECT session_id FROM jwt_session_refresh('$R')" "$DB2")" 28JS3
check "... and its access token is not verified there (28J0D)" \
    "$(sqlstate "SELECT jwt_authenticate('$A') ->> 'sub'" "$DB2")" 28J0D
check "... it still refreshes where it was issued" \
    "$(sqlstate "SELECT session_id FROM jwt_session_refresh('$R')")" "ok:$S"

# --- pg_dump / pg_restore ---
# The session tables are dumped with the extension (config tables, the refresh
# digests after the sessions they reference): a restored database refreshes
# what was open, and what had ended stays ended.
IFS='|' read -r A R S <<<"$(start '{"sub":"gil"}')"
IFS='|' read -r EA ER ES <<<"$(start '{"sub":"gwen"}')"
p "SELECT jwt_session_end('$ER')" >/dev/null
T=$(p "SELECT jwt_sign('{\"sub\":\"gil\",\"purpose\":\"reset\"}')")
p "SELECT jwt_consume('$T')" >/dev/null
DB3=jwt_sessions3_$$
own_database "$DB3"
"$PGBIN/pg_dump" -Fc -d "$DB" -f "$TMP/dump"
"$PGBIN/pg_restore" --exit-on-error -d "$DB3" "$TMP/dump"
check "restored: the open session refreshes" \
    "$(sqlstate "SELECT session_id FROM jwt_session_refresh('$R')" "$DB3")" "ok:$S"
check "restored: the ended session's refresh token is refused (28JS4)" \
    "$(sqlstate "SELECT session_id FROM jwt_session_refresh('$ER')" "$DB3")" 28JS4
check "restored: its access token is refused (28J04)" \
    "$(sqlstate "SELECT jwt_authenticate('$EA') ->> 'sub'" "$DB3")" 28J04
check "restored: the consumed token stays consumed (28JS5)" \
    "$(sqlstate "SELECT jwt_consume('$T')" "$DB3")" 28JS5

# --- placeholders set before the library is loaded ---
# Attack: a non-superuser sets jwt.leeway (superuser-only) in a new backend
# before jwt is loaded, then consumes an expired token; or sets the signing
# defaults to make session tokens without jti or with a long life.
p "CREATE ROLE sessions_app_$$ LOGIN" >/dev/null
drop_at_exit "DROP ROLE IF EXISTS sessions_app_$$"
p "GRANT EXECUTE ON FUNCTION jwt_keyring_signer() TO sessions_app_$$" >/dev/null
drop_at_exit "DROP OWNED BY sessions_app_$$"
EXPIRED=$(p "SELECT jwt_sign(jsonb_build_object('sub', 'fay', 'iat', extract(epoch FROM now())::bigint - 7200,
                                                'exp', extract(epoch FROM now())::bigint - 3600))")
OUT=$(PGOPTIONS="-c jwt.leeway=86400" "$PGBIN/psql" -X -q -A -t -v VERBOSITY=sqlstate -U "sessions_app_$$" -d "$DB" \
    -c "SELECT jwt_consume('$EXPIRED') ->> 'sub'" 2>&1 | grep -o '28J01' || true)
check "placeholder jwt.leeway from a non-superuser: jwt_consume still refuses the expired token" "$OUT" 28J01
OUT=$(PGOPTIONS="-c jwt.add_jti=off -c jwt.default_lifetime=100000000" "$PGBIN/psql" -X -q -A -t -U "sessions_app_$$" -d "$DB" \
    -c "SELECT (p ? 'jti') || '|' || (p ? 'sid') || '|' || ((p->>'exp')::bigint - (p->>'iat')::bigint)
        FROM (SELECT (jwt_decode(access_token)).payload AS p FROM jwt_session_start('{\"sub\":\"fay\"}')) x" 2>&1)
check "placeholder signing defaults: the access token still has jti, sid and 5 minutes" "$OUT" "true|true|300"

# --- a hot standby ---
standby_start
IFS='|' read -r A R S <<<"$(start '{"sub":"gus"}')"
IFS='|' read -r VA VR VS <<<"$(start '{"sub":"hal"}')"
p "SELECT session_id FROM jwt_session_refresh('$VR')" >/dev/null   # VR is used now
T=$(p "SELECT jwt_sign('{\"sub\":\"ida\"}')")
wait_replay
psql_session_stop
psql_session_start -h "$SB/sock" -p "$SB_PORT" -d "$DB"
check "standby session: the access tokens authenticate" \
    "$(in_session "BEGIN; SELECT jwt_authenticate('$A') ->> 'sub', jwt_authenticate('$VA') ->> 'sub'; COMMIT;")" "gus|hal"
check "standby: refreshing is refused (25006)" "$(s "SELECT jwt_session_refresh('$R')")" "ERROR:  25006"
check "standby: consuming is refused (25006)" "$(s "SELECT jwt_consume('$T')")" "ERROR:  25006"
check "standby: starting is refused (25006)" "$(s "SELECT jwt_session_start('{}')")" "ERROR:  25006"
check "primary: logout" "$(p "SELECT jwt_session_end('$R')")" t
check "primary: reuse of hal's used refresh token (28JS1)" \
    "$(sqlstate "SELECT session_id FROM jwt_session_refresh('$VR')")" 28JS1
wait_replay
check "standby session: the logged-out access token is refused (28J04)" \
    "$(in_session "SELECT jwt_authenticate('$A');")" "ERROR:  28J04"
check "standby session: the access token of the reused family is refused (28J04)" \
    "$(in_session "SELECT jwt_authenticate('$VA');")" "ERROR:  28J04"
check "new standby session: both refused" \
    "$(s "SELECT jwt_is_valid('$A')::text || jwt_is_valid('$VA')::text")" "falsefalse"

# --- an open session across DROP EXTENSION; CREATE EXTENSION in another ---
# (the internal functions' OIDs are cached per backend until pg_proc changes)
OUT=$("$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -d "$DB" 2>&1 <<SQL
SELECT (jwt_session_start('{"sub":"ivo"}')).session_id IS NOT NULL;
\\! "$PGBIN/psql" -X -q -d "$DB" -c "DROP EXTENSION jwt" -c "CREATE EXTENSION jwt" -c "SELECT jwt_generate_key('HS256')" >/dev/null
SELECT (jwt_session_start('{"sub":"ivo"}')).session_id IS NOT NULL;
SELECT count(*) FROM jwt_sessions;
SQL
)
check "an open session starts sessions in the re-created extension" "$OUT" $'t\nt\n1'

finish
